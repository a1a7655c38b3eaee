"""The one Orbax wrapper: periodic train-state checkpoints, resume, and sampling exports.

Layout of a workdir:
  WORKDIR/checkpoints/<step>/{state,config}   CheckpointManager items (async save, keep the last k)
  WORKDIR/export/{params/, config.json, data_info.json}   sampling params only (e.g. the EMA generator),
                                               config and the data facts the method was built with

Keeping Orbax behind this module means moving to its V1 API changes one file.
"""

from __future__ import annotations

import json
import pathlib

import jax
import ml_collections
import numpy as np
import orbax.checkpoint as ocp


def _abstract(tree):
  """Restore target with CONCRETE shardings (an eval_shape tree would fail on an AbstractMesh)."""
  return jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=x.sharding), tree)


def config_to_dict(config) -> dict:
  if isinstance(config, ml_collections.ConfigDict):
    return json.loads(config.to_json_best_effort())
  return dict(config)


class Checkpoints:
  """Train-state checkpoints under `directory`, saved asynchronously, the last `keep` kept."""

  def __init__(self, directory: str | pathlib.Path, *, keep: int = 3, asynchronous: bool = True):
    self.directory = pathlib.Path(directory).absolute()
    options = ocp.CheckpointManagerOptions(max_to_keep=keep, create=True, enable_async_checkpointing=asynchronous)
    self.manager = ocp.CheckpointManager(self.directory, options=options, item_names=("state", "config"))

  def latest_step(self) -> int | None:
    return self.manager.latest_step()

  def save(self, step: int, state, config) -> None:
    """Starts an asynchronous save of `state` (and the config as JSON) at `step`."""
    self.manager.save(
      step,
      args=ocp.args.Composite(state=ocp.args.StandardSave(state), config=ocp.args.JsonSave(config_to_dict(config))),
      force=True,
    )

  def restore(self, like, step: int | None = None):
    """Restores the state at `step` (default latest) into the structure, dtypes and shardings of `like`."""
    step = self.latest_step() if step is None else step
    out = self.manager.restore(step, args=ocp.args.Composite(state=ocp.args.StandardRestore(_abstract(like))))
    return out.state

  def wait(self) -> None:
    self.manager.wait_until_finished()

  def close(self) -> None:
    self.manager.close()


def restore_raw(workdir: str | pathlib.Path, step: int | None = None) -> tuple[dict, dict]:
  """(state as nested dicts of numpy arrays, config dict) of a workdir's checkpoint; no model needed."""
  directory = pathlib.Path(workdir).absolute() / "checkpoints"
  if not directory.is_dir():
    raise FileNotFoundError(f"no checkpoints in {directory}")
  with ocp.CheckpointManager(directory, item_names=("state", "config")) as manager:
    step = manager.latest_step() if step is None else step
    if step is None:
      raise FileNotFoundError(f"no finished checkpoint in {directory}")
    out = manager.restore(
      step, args=ocp.args.Composite(state=ocp.args.StandardRestore(), config=ocp.args.JsonRestore())
    )
  return jax.tree.map(np.asarray, out.state), dict(out.config)


def export(directory: str | pathlib.Path, params, config, info) -> pathlib.Path:
  """Writes sampling params (no optimizer state), the config and the data facts (`info`, a DataInfo);
  `load_export` reads them back."""
  directory = pathlib.Path(directory).absolute()
  directory.mkdir(parents=True, exist_ok=True)
  with ocp.StandardCheckpointer() as ckptr:
    ckptr.save(directory / "params", jax.device_get(params), force=True)
    ckptr.wait_until_finished()
  (directory / "config.json").write_text(json.dumps(config_to_dict(config), indent=1))
  info.write(directory / "data_info.json")
  return directory


def load_export(directory: str | pathlib.Path) -> tuple[dict, dict]:
  """(params as numpy pytree, config dict) from an `export` directory."""
  directory = pathlib.Path(directory).absolute()
  if not (directory / "params").exists() or not (directory / "config.json").exists():
    raise FileNotFoundError(f"{directory} is not an fsgen export (needs params/ and config.json)")
  with ocp.StandardCheckpointer() as ckptr:
    params = ckptr.restore(directory / "params")
  return jax.tree.map(np.asarray, params), json.loads((directory / "config.json").read_text())
