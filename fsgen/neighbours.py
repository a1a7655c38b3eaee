"""Squared Euclidean distances and exact nearest-neighbour search: the one copy that methods (Adaptive
IMLE's pool search) and metrics (memorisation, precision/recall, pairwise LPIPS) both use.

  sq_distances(q [M, D], k [N, D]) -> [M, N]      ||q||^2 - 2 q.k + ||k||^2 by one matrix product
  nearest(q, k) -> (index [M], sq. distance [M])   one product over all keys (held at once)
  nearest_chunked(q, make_keys, N, chunk)          the same over keys produced `chunk` at a time (lax.scan),
                                                   for key sets that are generated, or too big to hold

All in float32 at full matmul precision; ties go to the lowest key index, as np.argmin.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp


def sq_norms(x: jax.Array) -> jax.Array:
  """||x_i||^2 [N] of rows x [N, D] in float32."""
  x = x.astype(jnp.float32)
  return jnp.sum(x * x, axis=1)


def sq_distances(
  queries: jax.Array, keys: jax.Array, queries_sq: jax.Array | None = None, keys_sq: jax.Array | None = None
) -> jax.Array:
  """Squared Euclidean distances [M, N] of queries [M, D] to keys [N, D] by one matrix product.

  ||q||^2 - 2 q.k + ||k||^2 in float32 at full matmul precision; `queries_sq` [M] / `keys_sq` [N] may pass
  precomputed squared norms. Clamped at 0 (cancellation can make exact matches slightly negative).
  """
  q, k = queries.astype(jnp.float32), keys.astype(jnp.float32)
  qq = sq_norms(q) if queries_sq is None else queries_sq
  kk = sq_norms(k) if keys_sq is None else keys_sq
  qk = jnp.matmul(q, k.T, precision=jax.lax.Precision.HIGHEST)
  return jnp.maximum(qq[:, None] - 2.0 * qk + kk[None], 0.0)


@jax.jit
def nearest(
  queries: jax.Array, keys: jax.Array, keys_sq: jax.Array | None = None, valid: jax.Array | None = None
) -> tuple[jax.Array, jax.Array]:
  """Exact nearest key of each query by one matrix product over all keys.

  queries [M, D], keys [N, D]; keys_sq [N] optional precomputed ||k||^2; valid [N] bool optional (False
  rows are never chosen). The argmin runs over ||k||^2 - 2 q.k (||q||^2 does not change it) and ||q||^2 is
  added to the winners only. -> (index [M] int32, squared distance [M], clamped at 0).
  """
  q, k = queries.astype(jnp.float32), keys.astype(jnp.float32)
  kk = sq_norms(k) if keys_sq is None else keys_sq
  if valid is not None:
    kk = jnp.where(valid, kk, jnp.inf)
  part = kk[None] - 2.0 * jnp.matmul(q, k.T, precision=jax.lax.Precision.HIGHEST)
  idx = jnp.argmin(part, axis=1)
  best = jnp.take_along_axis(part, idx[:, None], 1)[:, 0]
  return idx.astype(jnp.int32), jnp.maximum(best + sq_norms(q), 0.0)


def nearest_chunked(
  queries: jax.Array, make_keys: Callable[[jax.Array], jax.Array], num_keys: int, chunk: int
) -> tuple[jax.Array, jax.Array]:
  """Exact top-1 of each query over `num_keys` keys produced `chunk` at a time; traceable (lax.scan).

  Args:
    queries: [M, D].
    make_keys: start (int32 scalar) -> [chunk, D], the keys start .. start + chunk - 1. Called with
      start = 0, chunk, 2 chunk, ...; rows at positions >= num_keys are ignored, so num_keys need not be a
      multiple of chunk.
    num_keys: total number of keys N (static); chunk: keys per call (static), the block is [M, chunk].
  Returns:
    (index [M] int32 in [0, N), squared distance [M]); ties go to the lowest index, as np.argmin.
  """
  num_chunks = -(-num_keys // chunk)
  qq = sq_norms(queries)

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
