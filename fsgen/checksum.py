"""Checksums of a pytree of arrays: what a checkpoint held when it was written, to verify it on restore.

`digest(tree)` maps each leaf's path to the sha256 of its dtype, shape and bytes (host copies; for an array
replicated over several processes, the local copy). `mismatch(tree, expected)` names the first leaf that
differs, or returns None. A flipped byte, a truncated file that still decodes, or a leaf restored from the
wrong place all change a digest.
"""

from __future__ import annotations

import hashlib

import jax
import numpy as np


def _host(x) -> np.ndarray:
  if isinstance(x, jax.Array):
    if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
      x = jax.random.key_data(x)
    if not x.is_fully_addressable:
      x = x.addressable_data(0)  # the loop's state is replicated: every process holds the whole array
  return np.ascontiguousarray(np.asarray(x))


def _path(path) -> str:
  """'opt/G/0/mu/Dense_0/kernel': the same for a NamedTuple field and the dict key it is restored as."""
  return "/".join(str(getattr(k, "key", getattr(k, "name", getattr(k, "idx", k)))) for k in path)


def digest(tree) -> dict[str, str]:
  """{leaf path: sha256 hex of "dtype shape" + bytes} of every leaf of `tree`."""
  out = {}
  for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
    x = _host(leaf)
    h = hashlib.sha256(f"{x.dtype.str} {x.shape}".encode())
    h.update(x.tobytes())
    out[_path(path)] = h.hexdigest()
  return out


def mismatch(tree, expected: dict[str, str]) -> str | None:
  """None when `tree` has exactly the leaves and digests of `expected`; else what differs, in a few words."""
  got = digest(tree)
  missing = sorted(set(expected) - set(got))
  extra = sorted(set(got) - set(expected))
  if missing or extra:
    return f"leaves differ from the recorded ones (missing {missing[:2]}, unexpected {extra[:2]})"
  for path in expected:
    if got[path] != expected[path]:
      return f"checksum mismatch in leaf {path}"
  return None
