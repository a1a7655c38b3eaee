"""Memorisation: nearest training image of each generated image (pixel space here).

For generated x_g [M, D] and training x_t [N, D] (flattened, in [-1, 1]):
  distinct_nn = number of distinct training images that are the nearest neighbour of some sample,
  nn_dist_{mean,min,median} = statistics of the per-sample RMS distance to the nearest training image.
Exact search by one matrix product (||a||^2 - 2 a.b + ||b||^2), chunked over the generated images.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from fsgen.data.preprocess import to_float


@jax.jit
def nearest(queries: jax.Array, keys: jax.Array) -> tuple[jax.Array, jax.Array]:
  """Exact nearest key of each query. queries [M, D], keys [N, D] -> (index [M] int32, sq. dist [M])."""
  d2 = (jnp.sum(queries**2, 1, keepdims=True) - 2.0 * queries @ keys.T + jnp.sum(keys**2, 1)[None])
  idx = jnp.argmin(d2, axis=1)
  return idx.astype(jnp.int32), jnp.maximum(jnp.take_along_axis(d2, idx[:, None], 1)[:, 0], 0.0)


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
