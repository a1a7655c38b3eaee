"""Preset resolution and shared config pieces.

Presets live in experiments/configs/NAME.py, each with `get_config(arg=None)`. `resolve("NAME")` maps a
bare name to that file, `resolve("path.py:arg")` passes through, `load("NAME:arg")` returns the
ConfigDict. `parse_arg` turns a preset's arg string ("test", "test,shots=5") into typed values.
"""

from __future__ import annotations

import importlib.util
import pathlib

import ml_collections

CONFIG_DIR = pathlib.Path(__file__).resolve().parents[1] / "experiments" / "configs"


def available(config_dir: pathlib.Path = CONFIG_DIR) -> list[str]:
  return sorted(p.stem for p in config_dir.glob("*.py") if not p.stem.startswith("_"))


def resolve(spec: str, config_dir: pathlib.Path = CONFIG_DIR) -> str:
  """'NAME[:arg]' -> '/abs/experiments/configs/NAME.py[:arg]'; a 'path.py[:arg]' is returned unchanged."""
  name, sep, arg = spec.partition(":")
  if name.endswith(".py"):
    if not pathlib.Path(name).is_file():
      raise FileNotFoundError(f"config file {name} does not exist")
    return spec
  if name not in available(config_dir):
    raise ValueError(f"unknown config {name!r}; available: {', '.join(available(config_dir))}")
  return f"{config_dir / (name + '.py')}{sep}{arg}"


def load(spec: str, config_dir: pathlib.Path = CONFIG_DIR) -> ml_collections.ConfigDict:
  """Imports the preset named by `spec` and returns get_config(arg)."""
  path, _, arg = resolve(spec, config_dir).partition(":")
  module_spec = importlib.util.spec_from_file_location(pathlib.Path(path).stem, path)
  module = importlib.util.module_from_spec(module_spec)
  module_spec.loader.exec_module(module)
  return module.get_config(arg or None)


def parse_arg(arg: str | None, **defaults) -> ml_collections.ConfigDict:
  """'test,shots=5' -> ConfigDict(test=True, shots=5, ...defaults); types follow the defaults.

  A bare word sets a bool default to True. Unknown words are an error naming them.
  """
  out = ml_collections.ConfigDict(defaults)
  for item in filter(None, (arg or "").split(",")):
    key, sep, value = item.partition("=")
    if key not in defaults:
      raise ValueError(f"unknown preset argument {key!r} (known: {', '.join(defaults)})")
    default = defaults[key]
    if not sep:
      if not isinstance(default, bool):
        raise ValueError(f"preset argument {key!r} needs a value ({key}=...)")
      out[key] = True
    elif isinstance(default, bool):
      out[key] = value.lower() in ("1", "true", "yes")
    else:
      out[key] = type(default)(value) if default is not None else value
  return out


def loop_defaults() -> ml_collections.ConfigDict:
  """The loop's keys with their defaults (see fsgen.train)."""
  return ml_collections.ConfigDict(
    dict(
      seed=0,
      total_steps=10_000,
      total_epochs=0,  # > 0: the run's length in epochs of the training set (then total_steps=0)
      batch_size=32,
      log_every=50,
      log_every_epochs=0,  # each *_every has an *_every_epochs form (fsgen.schedule.steps)
      sample_every=1000,
      sample_every_epochs=0,
      num_samples=64,
      ckpt_every=1000,
      ckpt_every_epochs=0,
      keep_ckpts=3,
      devices=0,  # 0 = all local devices (and all hosts when distributed)
      distributed=False,  # call jax.distributed.initialize() for multi-host runs
      init_from="",  # workdir of an earlier stage whose state is handed to method.init
      progress=True,
      dtype="float32",  # compute dtype of every network ("bfloat16": float32 params, bf16 compute)
      evals={},
    )
  )


def data_defaults(**overrides) -> ml_collections.ConfigDict:
  """The keys of config.data (see fsgen.data.load)."""
  d = dict(
    source="builtin:digits",
    resolution=32,
    channels=3,
    resize=True,
    shots=0,
    per_class=False,
    subset_seed=0,
    labels=False,
    tfds_data_dir="",
    tfds_manual_dir="",
  )
  d.update(overrides)
  return ml_collections.ConfigDict(d)


def reduced_schedule(
  c: ml_collections.ConfigDict, *, steps: int = 2, every: int = 2, num_samples: int = 4, evals: dict | None = None
) -> ml_collections.ConfigDict:
  """The loop schedule of a preset's reduced `test` form: `steps` steps, logging, samples and checkpoints
  every `every` steps, `num_samples` samples, `evals` (default none)."""
  c.total_steps = steps
  c.log_every = c.sample_every = c.ckpt_every = every
  c.num_samples = num_samples
  c.evals = evals or {}
  return c
