"""Memorisation: nearest training image of each generated image, in pixel, LPIPS or Inception space.

For generated x_g (M images) and training x_t (N images):
  distinct_nn = number of distinct training images that are the nearest neighbour of some sample
                (MixDL Fig. 8b, "number of unique NN training samples");
  nn_dist_{mean,min,median,p10,p90,max} = the distribution of each sample's distance to its nearest
                training image.
Spaces: 'pixel' (RMS distance of flattened images in [-1, 1]), 'lpips_vgg' / 'lpips_alex' (LPIPS, via its
feature form, Adaptive IMLE's NN space), 'inception' (Euclidean distance of pool3 features).
Exact search by one matrix product (||a||^2 - 2 a.b + ||b||^2), chunked over the generated images.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from fsgen.data.preprocess import to_float

SPACES = ("pixel", "lpips_vgg", "lpips_alex", "inception")


def sq_distances(queries: jax.Array, keys: jax.Array, queries_sq: jax.Array | None = None) -> jax.Array:
  """Squared Euclidean distances [M, N] of queries [M, D] to keys [N, D] by one matrix product.

  ||q||^2 - 2 q.k + ||k||^2 in float32 at full matmul precision; `queries_sq` [M] may pass precomputed
  ||q||^2. Clamped at 0 (cancellation can make exact matches slightly negative).
  """
  q, k = queries.astype(jnp.float32), keys.astype(jnp.float32)
  qq = jnp.sum(q * q, 1) if queries_sq is None else queries_sq
  qk = jnp.matmul(q, k.T, precision=jax.lax.Precision.HIGHEST)
  return jnp.maximum(qq[:, None] - 2.0 * qk + jnp.sum(k * k, 1)[None], 0.0)


@jax.jit
def nearest(queries: jax.Array, keys: jax.Array) -> tuple[jax.Array, jax.Array]:
  """Exact nearest key of each query. queries [M, D], keys [N, D] -> (index [M] int32, sq. dist [M])."""
  d2 = sq_distances(queries, keys)
  idx = jnp.argmin(d2, axis=1)
  return idx.astype(jnp.int32), jnp.take_along_axis(d2, idx[:, None], 1)[:, 0]


def nearest_chunked(
  queries: jax.Array, make_keys: Callable[[jax.Array], jax.Array], num_keys: int, chunk: int
) -> tuple[jax.Array, jax.Array]:
  """Exact top-1 of each query over `num_keys` keys produced `chunk` at a time; traceable (lax.scan).

  The one chunked search of the project (Adaptive IMLE's pool, which is regenerated, never stored).
  Args:
    queries: [M, D].
    make_keys: start (int32 scalar) -> [chunk, D], the keys start .. start + chunk - 1. Called with
      start = 0, chunk, 2 chunk, ...; rows at positions >= num_keys are ignored, so num_keys need not be a
      multiple of chunk (every key is searched, unlike the official floor(M / 1024) * 1024).
    num_keys: total number of keys N (static); chunk: keys per call (static), the block is [M, chunk].
  Returns:
    (index [M] int32 in [0, N), squared distance [M]); ties go to the lowest index, as np.argmin.
  """
  num_chunks = -(-num_keys // chunk)
  qq = jnp.sum(jnp.square(queries.astype(jnp.float32)), 1)

  def body(best, c):
    best_d, best_i = best
    start = c * chunk
    d2 = sq_distances(queries, make_keys(start), qq)
    d2 = jnp.where((start + jnp.arange(chunk) < num_keys)[None], d2, jnp.inf)
    i = jnp.argmin(d2, axis=1)
    d = jnp.take_along_axis(d2, i[:, None], 1)[:, 0]
    better = d < best_d  # strict: the earlier chunk keeps a tie
    return (jnp.where(better, d, best_d), jnp.where(better, start + i.astype(jnp.int32), best_i)), None

  init = (jnp.full(queries.shape[:1], jnp.inf, jnp.float32), jnp.zeros(queries.shape[:1], jnp.int32))
  (best_d, best_i), _ = jax.lax.scan(body, init, jnp.arange(num_chunks, dtype=jnp.int32))
  return best_i, best_d


def summarize(idx: np.ndarray, dist: np.ndarray) -> dict[str, float]:
  """Nearest indices [M] and distances [M] -> distinct_nn and the distance distribution."""
  return {
    "distinct_nn": float(len(np.unique(idx))),
    "nn_dist_mean": float(dist.mean()),
    "nn_dist_min": float(dist.min()),
    "nn_dist_median": float(np.median(dist)),
    "nn_dist_p10": float(np.percentile(dist, 10)),
    "nn_dist_p90": float(np.percentile(dist, 90)),
    "nn_dist_max": float(dist.max()),
  }


def memorisation(generated: np.ndarray, train: np.ndarray, chunk: int = 1024) -> dict[str, float]:
  """Pixel space. generated [M, H, W, C], train [N, H, W, C], both float in [-1, 1] -> statistics above."""
  keys = jnp.asarray(train.reshape(len(train), -1), jnp.float32)
  idx, d2 = [], []
  for s in range(0, len(generated), chunk):
    q = jnp.asarray(generated[s : s + chunk].reshape(-1, keys.shape[1]), jnp.float32)
    i, d = nearest(q, keys)
    idx.append(np.asarray(i))
    d2.append(np.asarray(d))
  idx = np.concatenate(idx)
  # Recompute the winners' distances directly: the expanded form cancels badly for near-copies.
  flat_g = np.asarray(generated, np.float32).reshape(len(generated), -1)
  flat_t = np.asarray(train, np.float32).reshape(len(train), -1)
  rms = np.sqrt(np.mean((flat_g - flat_t[idx]) ** 2, axis=1))
  return summarize(idx, rms)


def memorisation_in(
  space: str, generated: np.ndarray, train: np.ndarray, *, size: int | None = None, batch: int = 16
) -> dict[str, float]:
  """Memorisation statistics in `space` (see SPACES); images uint8 or float in [-1, 1].

  size: resize side for the LPIPS spaces (None: as given) and Inception input side (None: 299).
  """
  if space == "pixel":
    return memorisation(
      np.asarray(to_float(np.asarray(generated))) if generated.dtype == np.uint8 else np.asarray(generated, np.float32),
      np.asarray(to_float(train)),
    )
  if space in ("lpips_vgg", "lpips_alex"):
    from fsgen.metrics.lpips import LPIPS  # pylint: disable=import-outside-toplevel

    d = LPIPS(space.split("_")[1], size, batch).pairwise(generated, train)  # LPIPS values [M, N]
    idx = np.argmin(d, axis=1)
    return summarize(idx, d[np.arange(len(d)), idx])
  if space == "inception":
    from fsgen.metrics import inception  # pylint: disable=import-outside-toplevel

    fg = inception.features(generated, size or inception.FID_SIZE, batch)
    ft = inception.features(train, size or inception.FID_SIZE, batch)
    idx, d2 = nearest(jnp.asarray(fg), jnp.asarray(ft))
    return summarize(np.asarray(idx), np.sqrt(np.asarray(d2)))
  raise ValueError(f"nn: unknown space {space!r} (known: {', '.join(SPACES)})")


class Evaluator:
  """Samples `n` images and reports memorisation statistics against the training set in `space`."""

  def __init__(self, dataset, n: int = 256, space: str = "pixel", size: int | None = None, batch: int = 16):
    if space not in SPACES:
      raise ValueError(f"nn: unknown space {space!r} (known: {', '.join(SPACES)})")
    self.images = np.asarray(dataset.images)
    self.train = np.asarray(to_float(self.images))
    self.n, self.space, self.size, self.batch = n, space, size, batch

  def run(self, sample_fn, key) -> dict[str, float]:
    generated = np.asarray(sample_fn(key, self.n))
    if self.space == "pixel":
      return memorisation(generated, self.train)
    return memorisation_in(self.space, generated, self.images, size=self.size, batch=self.batch)
