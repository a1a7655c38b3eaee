"""Fixed-size chunks for the metrics' jitted feature functions: one compiled shape at any set size.

pad_rows(x, size)              x [n, ...] with zero rows appended up to `size` rows (n <= size)
map_chunks(fn, arrays, batch)  fn(*chunks) over aligned `batch`-row chunks of `arrays` (the last one
                               padded), each result trimmed to its real rows, concatenated on the host
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax.numpy as jnp
import numpy as np


def pad_rows(x, size: int) -> np.ndarray:
  """x [n, ...] (numpy or device) -> numpy [size, ...]: zero rows appended, so a jitted fn sees one shape."""
  x = np.asarray(x)
  if len(x) > size:
    raise ValueError(f"pad_rows: {len(x)} rows exceed the chunk of {size}")
  if len(x) == size:
    return x
  return np.concatenate([x, np.zeros((size - len(x), *x.shape[1:]), x.dtype)])


def map_chunks(fn: Callable, arrays: Sequence, batch: int) -> np.ndarray:
  """np.concatenate of fn(*[a[s:s + batch] padded to batch rows for a in arrays])[:real rows], s = 0, batch, ...

  arrays: aligned sets [n, ...] (same n); fn: a jitted function of `len(arrays)` device arrays whose output
  has one row per input row. Returns the n output rows as numpy.
  """
  n = len(arrays[0])
  if any(len(a) != n for a in arrays):
    raise ValueError(f"map_chunks: sets of different sizes {[len(a) for a in arrays]}")
  out = []
  for s in range(0, n, batch):
    chunks = [jnp.asarray(pad_rows(a[s : s + batch], batch)) for a in arrays]
    out.append(np.asarray(fn(*chunks))[: min(batch, n - s)])
  return np.concatenate(out)
