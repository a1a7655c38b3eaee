"""Presets: one file per preset, `experiments/configs/NAME.py` with `get_config(arg=None)`.

This package is the one place that finds presets and the datasets beside the checkout; the library
(fsgen) never refers to it. Files whose names start with `_` are not presets: they hold the bodies that
presets of one method share (`_mixdl.py`, `_cola.py`, ...), imported as `from experiments.configs import
_mixdl`. Each method's schema with its defaults stays in the library (`fsgen.methods.<m>.default_config`).

  resolve("NAME[:arg]")     -> "/abs/experiments/configs/NAME.py[:arg]" (a "path.py[:arg]" passes through)
  load("NAME[:arg]")        -> the preset's ConfigDict
  available()               -> preset names
  parse_arg(arg, **defaults) -> typed preset arguments ("test,shots=5")
  reduced_schedule(c, ...)  -> the loop schedule of a preset's reduced `test` form
  shared_data(*parts)       -> a path under the shared datasets (../shared/data beside the checkout, or
                               $FSGEN_SHARED_DATA)

Importing presets needs the checkout root on sys.path: experiments/run.py, experiments/eval.py, the
reproduction scripts, bench/ and the tests put it there.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import pathlib
import sys

import ml_collections

CONFIG_DIR = pathlib.Path(__file__).resolve().parent
ROOT = CONFIG_DIR.parents[1]


def shared_data(*parts: str) -> pathlib.Path:
  """Absolute path under the shared datasets: $FSGEN_SHARED_DATA, else ../shared/data beside the checkout.

  Presets use it for their default data; a missing folder is reported by fsgen.data when the preset runs.
  """
  root = os.environ.get("FSGEN_SHARED_DATA") or ROOT.parent / "shared" / "data"
  return pathlib.Path(root).resolve().joinpath(*parts)


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
  """Imports the preset named by `spec` ('NAME[:arg]' or 'path.py[:arg]') and returns get_config(arg)."""
  if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
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
      try:
        out[key] = type(default)(value) if default is not None else value
      except ValueError as e:
        raise ValueError(f"preset argument {key}={value!r}: expected {type(default).__name__}") from e
  return out


def reduced_schedule(
  c: ml_collections.ConfigDict, *, steps: int = 2, every: int = 2, num_samples: int = 4, evals: dict | None = None
) -> ml_collections.ConfigDict:
  """The loop schedule of a preset's reduced `test` form: `steps` steps, logging, samples and checkpoints
  every `every` steps, `num_samples` samples, `evals` (default none). Epoch-form durations are cleared."""
  c.total_steps = steps
  c.log_every = c.sample_every = c.ckpt_every = every
  for key in ("total_epochs", "log_every_epochs", "sample_every_epochs", "ckpt_every_epochs"):
    if key in c:
      c[key] = 0
  c.num_samples = num_samples
  c.evals = evals or {}
  return c
