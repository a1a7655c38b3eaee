"""Up-front checks of the loop's config keys: each bad value is a one-line ValueError naming key and value.

`loop_config(config)` runs before the loop touches the workdir, the data or a device, so a typo never
leaves anything behind. Durations are checked in both forms (steps and epochs, fsgen.schedule) with a
placeholder of one step per epoch; the loop converts them again once the data is known. Method keys
(model, optim, the method's own section) are the method's to check.
"""

from __future__ import annotations

import importlib.util
import numbers

from fsgen import methods, schedule
from fsgen.data.info import DataInfo
from fsgen.nets import precision

# Loop durations: (step-form key, smallest value in steps).
DURATIONS = (("total_steps", 1), ("log_every", 1), ("sample_every", 1), ("ckpt_every", 1))
_PLACEHOLDER = DataInfo(num_images=1, image_shape=(1, 1, 1), num_classes=0, batch_size=1)


def _is_int(v) -> bool:
  return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _is_number(v) -> bool:
  return isinstance(v, numbers.Real) and not isinstance(v, bool)


def _require(ok: bool, key: str, value, what: str) -> None:
  if not ok:
    raise ValueError(f"config.{key}={value!r}: {what}")


def loop_config(config) -> None:
  """Raises ValueError naming the first bad loop key of `config` (a ConfigDict or mapping)."""
  get = config.get
  method = get("method")
  known = methods.available()
  _require(method in known, "method", method, f"unknown method (available: {', '.join(known)})")
  if not get("total_steps") and not get("total_epochs"):
    raise ValueError(
      f"config.total_steps={get('total_steps')!r} and config.total_epochs={get('total_epochs', 0)!r}: "
      "this trains nothing; give total_steps or total_epochs > 0"
    )
  for key, minimum in DURATIONS:
    schedule.steps(config, key, _PLACEHOLDER, minimum=minimum)
  for key in ("batch_size", "num_samples"):
    _require(_is_int(get(key)) and get(key) >= 1, key, get(key), "must be a positive integer")
  _require(_is_int(get("keep_ckpts", 3)) and get("keep_ckpts", 3) >= 1, "keep_ckpts", get("keep_ckpts"), "must be >= 1")
  _require(_is_int(get("devices", 0)) and get("devices", 0) >= 0, "devices", get("devices"), "must be >= 0 (0 = all)")
  _require(_is_int(get("seed", 0)), "seed", get("seed"), "must be an integer")
  for key in ("distributed", "progress"):
    _require(isinstance(get(key, False), bool), key, get(key), "must be True or False")
  _require(isinstance(get("init_from", "") or "", str), "init_from", get("init_from"), "must be a workdir path")
  for key in ("max_param_norm", "max_grad_norm"):
    value = get(key, 0)
    _require(_is_number(value) and value >= 0, key, value, "must be a number >= 0 (0 = no bound)")
  _require(
    get("dtype", "float32") in precision.DTYPES, "dtype", get("dtype"), f"must be one of {', '.join(precision.DTYPES)}"
  )
  _evals(get("evals", {}) or {})


def _evals(evals) -> None:
  if not hasattr(evals, "items"):
    raise ValueError(f"config.evals={evals!r}: must be a mapping NAME -> {{type, every, ...}} (or {{}})")
  for name, cfg in evals.items():
    if not cfg:  # None or {}: disabled
      continue
    where = f"config.evals.{name}"
    if not hasattr(cfg, "get"):
      raise ValueError(f"{where}={cfg!r}: must be a mapping {{type, every, ...}}, or None/{{}} to disable it")
    kind = cfg.get("type")
    if not isinstance(kind, str) or importlib.util.find_spec(f"fsgen.metrics.{kind}") is None:
      raise ValueError(f"{where}.type={kind!r}: unknown evaluator type")
    schedule.steps(cfg, "every", _PLACEHOLDER, where=where)
