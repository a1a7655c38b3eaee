"""The one Orbax wrapper: periodic train-state checkpoints, resume, and sampling exports.

Layout of a workdir:
  WORKDIR/checkpoints/<step>/{state,config,checksum}   CheckpointManager items (async save, keep the last k);
                                               checksum: sha256 of every state leaf, taken at save time
  WORKDIR/checkpoints_damaged/<step>           damaged steps moved aside by a resume (see restore_intact)
  WORKDIR/export/{params/, config.json, data_info.json}   sampling params only (e.g. the EMA generator),
                                               config and the data facts the method was built with

Keeping Orbax behind this module means moving to its V1 API changes one file.
"""

from __future__ import annotations

import json
import pathlib
import shutil

import jax
import ml_collections
import numpy as np
import orbax.checkpoint as ocp
from absl import logging
from etils import epath
from jax.experimental import multihost_utils

from fsgen import checksum

ITEMS = ("state", "config", "checksum")


def _abstract(tree):
  """Restore target with CONCRETE shardings (an eval_shape tree would fail on an AbstractMesh)."""
  return jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=x.sharding), tree)


def config_to_dict(config) -> dict:
  if isinstance(config, ml_collections.ConfigDict):
    return json.loads(config.to_json_best_effort())
  return dict(config)


class DamagedCheckpointError(ValueError):
  """No checkpoint of a workdir passes its check; the message names each step and what failed."""


def _reason(e: BaseException) -> str:
  """The first line of an exception, shortened: Orbax and TensorStore errors run to many lines."""
  text = (str(e).strip().splitlines() or [""])[0]
  text = text if len(text) <= 160 else text[:157] + "..."
  return f"{type(e).__name__}: {text}" if text else type(e).__name__


def _local_target(state_dir: pathlib.Path):
  """Shapes and dtypes of a saved state on this process's first device, whatever topology saved it (a
  checkpoint of a multi-host run restores on one machine)."""
  metadata = ocp.StandardCheckpointHandler().metadata(epath.Path(state_dir))
  device = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
  is_leaf = lambda x: hasattr(x, "shape") and hasattr(x, "dtype")
  return jax.tree.map(lambda m: jax.ShapeDtypeStruct(m.shape, m.dtype, sharding=device), metadata, is_leaf=is_leaf)


def _restore_verified(manager, step: int, target) -> tuple[dict, dict]:
  """(state, config) at `step`, the state restored into `target` (None: as saved, on this process's first
  device) and checked against the checksums recorded at save time; raises if any item is missing or a
  checksum differs."""
  if target is None:
    target = _local_target(pathlib.Path(manager.directory) / str(step) / "state")
  state_args = ocp.args.StandardRestore(target)
  args = ocp.args.Composite(state=state_args, config=ocp.args.JsonRestore(), checksum=ocp.args.JsonRestore())
  out = manager.restore(step, args=args)
  recorded = out.checksum.get("sha256") if isinstance(out.checksum, dict) else None
  if not recorded:
    raise ValueError("no checksum recorded")
  if not isinstance(out.config, dict):
    raise ValueError("no config recorded")
  problem = checksum.mismatch(out.state, recorded)
  if problem:
    raise ValueError(problem)
  return out.state, dict(out.config)


def _newest_intact(manager, directory, target) -> tuple[tuple | None, int | None, list[tuple[int, str]]]:
  """((state, config), step, [(damaged step, reason) newer than it]) of the newest checkpoint that restores
  and verifies; (None, None, []) without checkpoints. Raises DamagedCheckpointError when none does."""
  damaged = []
  for step in sorted(manager.all_steps(), reverse=True):
    try:
      state = _restore_verified(manager, step, target)
    except Exception as e:  # noqa: BLE001  (any failure to restore or verify means: do not use this step)
      damaged.append((step, _reason(e)))
      logging.warning("checkpoint step %d in %s is damaged (%s)", step, directory, damaged[-1][1])
      continue
    if damaged:
      newer = ", ".join(str(s) for s, _ in damaged)
      logging.warning("falling back to checkpoint step %d in %s (newer damaged: %s)", step, directory, newer)
    return state, step, damaged
  if damaged:
    listed = "; ".join(f"step {s}: {r}" for s, r in damaged)
    raise DamagedCheckpointError(f"no intact checkpoint in {directory} ({listed}); move it away to start over")
  return None, None, []


class Checkpoints:
  """Train-state checkpoints under `directory`, saved asynchronously, the last `keep` kept.

  Each step holds the state, the config (JSON) and the sha256 of every state leaf taken at save time;
  `restore_intact` resumes from the newest step that restores and matches its checksums.
  """

  def __init__(self, directory: str | pathlib.Path, *, keep: int = 3, asynchronous: bool = True):
    self.directory = pathlib.Path(directory).absolute()
    self._options = ocp.CheckpointManagerOptions(max_to_keep=keep, create=True, enable_async_checkpointing=asynchronous)
    self._manager = None

  @property
  def manager(self) -> ocp.CheckpointManager:
    """Orbax's manager, made (and the directory created) at first use: a run refused before its first save
    leaves no checkpoints directory behind."""
    if self._manager is None:
      self._manager = ocp.CheckpointManager(self.directory, options=self._options, item_names=ITEMS)
    return self._manager

  def _untouched(self) -> bool:
    return self._manager is None and not self.directory.exists()

  def latest_step(self) -> int | None:
    return None if self._untouched() else self.manager.latest_step()

  def save(self, step: int, state, config) -> None:
    """Starts an asynchronous save of `state`, the config (JSON) and the state's checksums at `step`."""
    sums = checksum.digest(state)
    self.manager.save(
      step,
      args=ocp.args.Composite(
        state=ocp.args.StandardSave(state),
        config=ocp.args.JsonSave(config_to_dict(config)),
        checksum=ocp.args.JsonSave({"sha256": sums}),
      ),
      force=True,
    )

  def restore(self, like, step: int | None = None):
    """The verified state at `step` (default latest) in the structure, dtypes and shardings of `like`;
    raises if that step does not restore or fails its checksums."""
    step = self.latest_step() if step is None else step
    return _restore_verified(self.manager, step, _abstract(like))[0]

  def restore_intact(self, like) -> tuple[dict | None, int | None]:
    """(state, step) of the newest intact checkpoint, or (None, None) when there is none yet.

    Damaged steps newer than it (a file deleted, truncated, metadata removed, bytes flipped) are each named
    in a one-line warning and moved to `<directory>_damaged/` so that this run can save those steps
    again; they are never resumed from. Raises DamagedCheckpointError when no step is intact (then
    nothing is moved).
    """
    if self._untouched():
      return None, None
    restored, step, damaged = _newest_intact(self.manager, self.directory, _abstract(like))
    if damaged:
      self._quarantine([s for s, _ in damaged])
    return (None, None) if restored is None else (restored[0], step)

  def _quarantine(self, steps) -> None:
    self.wait()
    if jax.process_index() == 0:
      dest = self.directory.parent / (self.directory.name + "_damaged")
      dest.mkdir(exist_ok=True)
      for step in steps:
        target = dest / str(step)
        n = 1
        while target.exists():
          target, n = dest / f"{step}.{n}", n + 1
        shutil.move(str(self.directory / str(step)), str(target))
        logging.warning("moved damaged checkpoint step %d to %s", step, target)
    if jax.process_count() > 1:
      multihost_utils.sync_global_devices("fsgen_checkpoint_quarantine")
    self.manager.reload()

  def wait(self) -> None:
    if self._manager is not None:
      self._manager.wait_until_finished()

  def close(self) -> None:
    if self._manager is not None:
      self._manager.close()


def restore_raw(workdir: str | pathlib.Path, step: int | None = None) -> tuple[dict, dict]:
  """(state as nested dicts of numpy arrays, config dict) of a workdir's checkpoint; no model needed.

  Default: the newest intact checkpoint (damaged newer ones are named in a warning, and left in place).
  """
  directory = pathlib.Path(workdir).absolute() / "checkpoints"
  if not directory.is_dir():
    raise FileNotFoundError(f"no checkpoints in {directory}")
  with ocp.CheckpointManager(directory, item_names=ITEMS) as manager:
    if step is None:
      restored, step, _ = _newest_intact(manager, directory, None)
      if restored is None:
        raise FileNotFoundError(f"no finished checkpoint in {directory}")
    else:
      restored = _restore_verified(manager, step, None)
  state, config = restored
  return jax.tree.map(np.asarray, state), config


def export(directory: str | pathlib.Path, params, config, info) -> pathlib.Path:
  """Writes sampling params (no optimizer state), the config and the data facts (`info`, a DataInfo);
  `load_export` reads them back."""
  directory = pathlib.Path(directory).absolute()
  directory.mkdir(parents=True, exist_ok=True)
  with ocp.StandardCheckpointer() as ckptr:
    ckptr.save(directory / "params", jax.device_get(params), force=True)
    ckptr.wait_until_finished()
  if jax.process_index() == 0:  # Orbax writes the params once; the JSON files come from process 0 only
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
