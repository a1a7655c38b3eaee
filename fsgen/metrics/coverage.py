"""Coverage of the training set under the IMLE distance: how close each training image's nearest sample is.

For training images x_i (N) and n generated samples g_j, with the IMLE distance L of fsgen.losses.imle
(L(a, b) = lpips_coef * LPIPS(a, b) + l2_coef * mean pixel MSE, as a squared feature distance):
  cov_mean, cov_median, cov_p90, cov_max = statistics over i of min_j L(g_j, x_i)   (exact search)
  cov_distinct = number of distinct samples that are the nearest of some training image.
This is the quantity IMLE minimises ("every training image has some similar generated image"); the
reproduction calibrates it with reference rows (noisy, blurred copies; other real images).

Args of the evaluator: n samples, features ("pixel", "lpips_alex", "lpips_vgg"), lpips_size (the side
LPIPS sees; 0 = the data resolution), l2_coef, lpips_coef, batch (images per jitted chunk).
"""

from __future__ import annotations

import jax
import numpy as np

from fsgen.data.preprocess import to_float
from fsgen.losses import imle as imle_loss
from fsgen.metrics.chunks import map_chunks
from fsgen.neighbours import nearest


def coverage_stats(d: np.ndarray, idx: np.ndarray) -> dict[str, float]:
  """Per-training-image nearest distances d [N] and nearest sample ids [N] -> the statistics above."""
  return {
    "cov_mean": float(d.mean()),
    "cov_median": float(np.median(d)),
    "cov_p90": float(np.percentile(d, 90)),
    "cov_max": float(d.max()),
    "cov_distinct": float(len(np.unique(idx))),
  }


class Evaluator:
  """Coverage of the training set by `n` samples under the IMLE distance (see the module docstring)."""

  def __init__(
    self,
    dataset,
    n: int = 500,
    features: str = "lpips_alex",
    lpips_size: int = 0,
    l2_coef: float = 0.1,
    lpips_coef: float = 1.0,
    batch: int = 50,
  ):
    images = np.asarray(dataset.images)
    _, h, w, c = images.shape
    if h != w:
      raise ValueError(f"coverage: needs square images, got {h}x{w}")
    self.n, self.batch = int(n), int(batch)
    self.dist = imle_loss.build(
      features, resolution=h, channels=c, l2_coef=l2_coef, lpips_coef=lpips_coef, lpips_size=lpips_size
    )
    if self.dist.asset:
      from fsgen.metrics.lpips import weights  # pylint: disable=import-outside-toplevel

      self.weights = weights(features.split("_", 1)[1])
    else:
      self.weights = None
    self._phi = jax.jit(self.dist.features)
    self.train = self.features(np.asarray(to_float(images)))

  def features(self, images: np.ndarray) -> np.ndarray:
    """phi [N, D] of float images [N, H, W, C] in [-1, 1]."""
    return map_chunks(lambda x: self._phi(self.weights, x), [images], self.batch)

  def distances(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(min_j L(images_j, x_i) [N], argmin j [N]) for float images [n, H, W, C] in [-1, 1]."""
    idx, d2 = nearest(self.train, self.features(images))
    return np.asarray(d2), np.asarray(idx)

  def run(self, sample_fn, key) -> dict[str, float]:
    parts = [np.asarray(sample_fn(jax.random.fold_in(key, i), self.batch)) for i in range(-(-self.n // self.batch))]
    d, idx = self.distances(np.concatenate(parts)[: self.n])
    return coverage_stats(d, idx)
