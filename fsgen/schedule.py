"""Durations in steps or epochs, converted once by the loop (in the manner of big_vision's `u.steps`).

A loop duration can be given as steps or as epochs of the training set: `total_steps` or
`total_epochs`, `log_every` or `log_every_epochs`, `sample_every[_epochs]`, `ckpt_every[_epochs]`,
`evals.NAME.every[_epochs]`. An epoch is `DataInfo.steps_per_epoch` = ceil(N / B) steps. Setting both
forms of one duration (both non-zero) is an error: a preset that counts in epochs sets the step key to 0.
A zero or absent epoch key means "use the step key".
"""

from __future__ import annotations

import math

from fsgen.data.info import DataInfo


def _epochs_key(key: str) -> str:
  return key[: -len("_steps")] + "_epochs" if key.endswith("_steps") else key + "_epochs"


def steps(cfg, key: str, info: DataInfo, *, where: str = "config", minimum: int = 1) -> int:
  """The duration `cfg[key]` in steps, or `cfg[key_epochs]` epochs converted with `info`.

  Args:
    cfg: a ConfigDict or mapping holding the duration.
    key: the step-form key, e.g. "total_steps" (epoch form "total_epochs") or "log_every"
      ("log_every_epochs").
    info: the data facts (steps per epoch).
    where: the config path of `cfg`, for error messages ("config", "config.evals.fid").
    minimum: the smallest allowed value (0 for total_steps, 1 for intervals).
  Raises:
    ValueError naming the key when both forms are set, or the value is below `minimum` or not a number.
  """
  ekey = _epochs_key(key)
  epochs = cfg.get(ekey, 0) or 0
  value = cfg.get(key, None)
  if epochs:
    if not isinstance(epochs, (int, float)) or isinstance(epochs, bool) or epochs < 0:
      raise ValueError(f"{where}.{ekey} must be a positive number of epochs, got {epochs!r}")
    if value not in (None, 0):
      raise ValueError(f"{where}.{key}={value} and {where}.{ekey}={epochs} are both set; keep one")
    out = max(1, math.ceil(epochs * info.steps_per_epoch - 1e-9))
  else:
    if value is None:
      raise ValueError(f"{where}.{key} is missing (give {key} or {ekey})")
    if not isinstance(value, int) or isinstance(value, bool):
      raise ValueError(f"{where}.{key} must be an integer number of steps, got {value!r}")
    out = value
  if out < minimum:
    raise ValueError(f"{where}.{key} must be >= {minimum}, got {out}")
  return int(out)
