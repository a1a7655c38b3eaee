"""Memorisation: nearest training image of each generated image (pixel space here).

For generated x_g [M, D] and training x_t [N, D] (flattened, in [-1, 1]):
  distinct_nn = number of distinct training images that are the nearest neighbour of some sample,
  nn_dist_{mean,min,median} = statistics of the per-sample RMS distance to the nearest training image.
Exact search by one matrix product (||a||^2 - 2 a.b + ||b||^2), chunked over the generated images.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from fsgen.data.preprocess import to_float


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


def nearest_chunked(queries: jax.Array, make_keys: Callable[[jax.Array], jax.Array], num_keys: int,
                    chunk: int) -> tuple[jax.Array, jax.Array]:
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


def memorisation(generated: np.ndarray, train: np.ndarray, chunk: int = 1024) -> dict[str, float]:
  """generated [M, H, W, C], train [N, H, W, C], both float in [-1, 1] -> the statistics above."""
  keys = jnp.asarray(train.reshape(len(train), -1), jnp.float32)
  idx, d2 = [], []
  for s in range(0, len(generated), chunk):
    q = jnp.asarray(generated[s:s + chunk].reshape(-1, keys.shape[1]), jnp.float32)
    i, d = nearest(q, keys)
    idx.append(np.asarray(i))
    d2.append(np.asarray(d))
  idx, rms = np.concatenate(idx), np.sqrt(np.concatenate(d2) / keys.shape[1])
  return {"distinct_nn": float(len(np.unique(idx))), "nn_dist_mean": float(rms.mean()),
          "nn_dist_min": float(rms.min()), "nn_dist_median": float(np.median(rms))}


class Evaluator:
  """Samples `n` images and reports memorisation statistics against the training set."""

  def __init__(self, dataset, n: int = 256):
    self.train = np.asarray(to_float(dataset.images))
    self.n = n

  def run(self, sample_fn, key) -> dict[str, float]:
    return memorisation(np.asarray(sample_fn(key, self.n)), self.train)
