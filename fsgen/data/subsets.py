"""Deterministic k-shot subsets."""

from __future__ import annotations

import numpy as np

from fsgen.data.sources import DataError


def select_shots(
  n: int, shots: int, *, seed: int, labels: np.ndarray | None = None, per_class: bool = False
) -> np.ndarray:
  """Indices of a k-shot subset, chosen from `seed` alone, sorted.

  Args:
    n: number of images available.
    shots: images to keep in total, or per class when `per_class` (0 keeps everything).
    seed: subset seed (independent of the training seed so runs can share a subset).
    labels: int [n], required when `per_class`.
  Returns:
    int64 [k] sorted indices (k = shots, or shots * classes).
  """
  if shots <= 0:
    return np.arange(n)
  rng = np.random.default_rng(seed)
  if not per_class:
    if shots > n:
      raise DataError(f"data.shots={shots} but the source has only {n} images")
    return np.sort(rng.choice(n, shots, replace=False))
  if labels is None:
    raise DataError("data.per_class=True needs a labelled source (set data.labels=True for folders)")
  picked = []
  for c in np.unique(labels):
    members = np.flatnonzero(labels == c)
    if shots > len(members):
      raise DataError(f"data.shots={shots} per class but class {c} has only {len(members)} images")
    picked.append(rng.choice(members, shots, replace=False))
  return np.sort(np.concatenate(picked))
