"""Improved precision and recall (Kynkaanniemi et al. 2019), k = 3.

Each feature set defines a manifold: the union of balls around its points with radius the distance to
the point's k-th nearest neighbour in the same set (itself excluded). Then
  precision = fraction of generated features inside the real manifold,
  recall    = fraction of real features inside the generated manifold.
Features: Inception pool3 (default) or 'vgg': LPIPS-VGG16 relu5_3, global-average pooled (512-d) at
224 px. The paper uses VGG16 fc2 (4096-d); the fc layers are not in the registry-carried LPIPS weights,
so 'vgg' is an approximation and Inception is the default. Distances are exact, chunked on device.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from fsgen.metrics import inception
from fsgen.metrics.chunks import map_chunks
from fsgen.neighbours import sq_distances

_sq_dists = jax.jit(sq_distances)


def knn_radii(feats: np.ndarray, k: int = 3, chunk: int = 1024) -> np.ndarray:
  """Squared distance [N] from each row of feats [N, D] to its k-th nearest other row."""
  f = jnp.asarray(feats, jnp.float32)
  out = []
  for s in range(0, len(f), chunk):
    d = _sq_dists(f[s : s + chunk], f)
    out.append(np.asarray(jnp.sort(d, axis=1)[:, k]))  # column 0 is the point itself (distance 0)
  return np.concatenate(out)


def coverage(queries: np.ndarray, support: np.ndarray, radii: np.ndarray, chunk: int = 1024) -> float:
  """Fraction of queries [M, D] within radii [N] (squared) of some support point [N, D]."""
  s_ = jnp.asarray(support, jnp.float32)
  r = jnp.asarray(radii, jnp.float32)
  inside = []
  for s in range(0, len(queries), chunk):
    d = _sq_dists(jnp.asarray(queries[s : s + chunk], jnp.float32), s_)
    inside.append(np.asarray(jnp.any(d <= r[None], axis=1)))
  return float(np.concatenate(inside).mean())


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = 3) -> dict[str, float]:
  """real [N, D], fake [M, D] features -> {'precision', 'recall'}."""
  if min(len(real), len(fake)) <= k:
    raise ValueError(f"precision_recall: need more than k={k} features per set, got {len(real)}, {len(fake)}")
  return {"precision": coverage(fake, real, knn_radii(real, k)), "recall": coverage(real, fake, knn_radii(fake, k))}


@functools.cache
def _vgg_fn(size: int):
  from fsgen.metrics.lpips import prepare, weights  # pylint: disable=import-outside-toplevel
  from fsgen.nets.lpips import VGG16, vgg_input  # pylint: disable=import-outside-toplevel

  params = weights("vgg")["VGG16_0"]

  @jax.jit
  def fn(x):
    return jnp.mean(VGG16().apply({"params": params}, vgg_input(prepare(x, size)))[-1], axis=(1, 2))

  return fn


def vgg_features(images: np.ndarray, size: int = 224, batch: int = 32) -> np.ndarray:
  """[N, 512] relu5_3 global-average features of the LPIPS VGG16 backbone."""
  return map_chunks(_vgg_fn(size), [images], batch)


class Evaluator(inception.InceptionEvaluator):
  """Precision and recall of `n` generated images vs the training set (or `reference`), k = 3."""

  def __init__(
    self,
    dataset,
    n: int = 5000,
    k: int = 3,
    features: str = "inception",
    size: int | None = None,
    batch: int = 50,
    reference=None,
  ):
    if features not in ("inception", "vgg"):
      raise ValueError(f"pr: features must be 'inception' or 'vgg', got {features!r}")
    size = size or (inception.FID_SIZE if features == "inception" else 224)
    super().__init__(dataset, n, size, batch, reference)
    self.k, self.kind = int(k), features

  def run(self, sample_fn, key) -> dict[str, float]:
    if self.kind == "inception":
      real, fake = self.reference(), self.generated(sample_fn, key)
    else:
      real = vgg_features(self._images, self.size, self.batch)
      fake = np.concatenate(
        [
          vgg_features(np.asarray(sample_fn(jax.random.fold_in(key, i), self.batch)), self.size, self.batch)
          for i in range(-(-self.n // self.batch))
        ]
      )[: self.n]
    return precision_recall(real, fake, self.k)
