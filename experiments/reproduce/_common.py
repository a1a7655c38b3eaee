"""What every reproduction script shares: resumable cells, mean +- spread cells, markdown tables.

A reproduction is a grid of cells (preset x seed x variant); each cell writes its result to its own JSON
file when it finishes, so a stopped script re-run with the same arguments skips the finished cells and
reports partial tables honestly (`cells ran: k of n`).
"""

from __future__ import annotations

import json
import math
import pathlib
from collections.abc import Callable

import numpy as np


def cell(path: str | pathlib.Path, compute: Callable[[], dict]) -> dict:
  """The result of one cell: read from `path` if it exists, else compute() written atomically to `path`."""
  path = pathlib.Path(path)
  if path.exists():
    return json.loads(path.read_text())
  out = compute()
  path.parent.mkdir(parents=True, exist_ok=True)
  tmp = path.with_suffix(".tmp")
  tmp.write_text(json.dumps(out, indent=1))
  tmp.replace(path)
  return out


def set_dotted(config, key: str, value) -> None:
  """config["a"]["b"]["c"] = value for key "a.b.c"; a missing parent is a KeyError naming the key."""
  *parents, leaf = key.split(".")
  node = config
  for name in parents:
    if name not in node:
      raise KeyError(f"config key {key!r}: {name!r} not found")
    node = node[name]
  node[leaf] = value


def parse_set(item: str, config) -> tuple[str, object]:
  """'model.upsample=subpixel' -> (key, value), the value typed as the config's current value at key
  (bool from true/false/1/0, int, float, str); an unknown key or a bad value is a ValueError naming it."""
  key, sep, text = item.partition("=")
  if not sep or not key:
    raise ValueError(f"--set {item!r}: expected KEY=VALUE")
  node = config
  for name in key.split("."):
    if not hasattr(node, "keys") or name not in node:
      raise ValueError(f"--set {item!r}: unknown config key {key!r}")
    node = node[name]
  if isinstance(node, bool):
    if text.lower() not in ("1", "0", "true", "false"):
      raise ValueError(f"--set {item!r}: {key} is a bool (true/false)")
    return key, text.lower() in ("1", "true")
  try:
    return key, type(node)(text) if isinstance(node, (int, float, str)) else json.loads(text)
  except ValueError as e:
    raise ValueError(f"--set {item!r}: {key} needs a value of type {type(node).__name__}") from e


def done(path: str | pathlib.Path) -> dict | None:
  """A finished cell's result, or None when it has not run yet."""
  path = pathlib.Path(path)
  return json.loads(path.read_text()) if path.exists() else None


def mean_spread(values, digits: int = 2, *, unit: str = "") -> str:
  """'m ± s (n)' over the finite values: sample std (ddof 1) for n > 1; 'm (n=1)' for one; 'n/a' for none."""
  vals = [float(v) for v in values if v is not None and math.isfinite(float(v))]
  if not vals:
    return "n/a"
  m = float(np.mean(vals))
  if len(vals) == 1:
    return f"{m:.{digits}f}{unit} (n=1)"
  return f"{m:.{digits}f} ± {float(np.std(vals, ddof=1)):.{digits}f}{unit} (n={len(vals)})"


def interval95(values, digits: int = 2) -> str:
  """'m ± 1.96 s / sqrt(n)': the mean and 95% interval half-width of per-task accuracies (or any sample)."""
  vals = np.asarray([float(v) for v in values], np.float64)
  if len(vals) == 0:
    return "n/a"
  half = 1.96 * vals.std(ddof=1) / math.sqrt(len(vals)) if len(vals) > 1 else float("nan")
  return f"{vals.mean():.{digits}f} ± {half:.{digits}f}"


def markdown_table(header: list[str], rows: list[list]) -> str:
  """A GitHub markdown table; cells are str() of the values."""
  lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
  lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
  return "\n".join(lines)
