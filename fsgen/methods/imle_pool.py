"""Adaptive IMLE's pool of generated samples and the exact search of the training images over it.

Sample j of the pool with key k is drawn from fold_in(k, j) (fsgen.nets.imle_generator.latents_from_ids),
so a pool is its key plus, optionally, its features: a matched latent is regenerated from its index.

  features(weights, g, key) -> ([P, D], ||.||^2 [P])  search-space features of the whole pool, generated
                                                      `chunk` samples at a time (P = M rounded up to a chunk;
                                                      rows >= M are padding, see `valid`)
  search(queries, weights, g, key, held=None)         nearest pool sample of each query [n, D] ->
                                                      (ids [n] int32 in [0, M), squared distance [n])

The search is one matrix product over the whole pool's features when they fit `max_bytes` (held features
of a reused pool, or features just generated); otherwise the features are generated and searched chunk by
chunk in a scan (fsgen.neighbours.nearest_chunked), never held at once. Both are exact over all M samples
(the official code searches floor(M / 1024) * 1024 of them, approximately, with DCI).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from fsgen.neighbours import nearest, nearest_chunked, sq_norms

DEFAULT_MAX_BYTES = 1 << 30  # hold at most 1 GiB of float32 features at once


def fits(rows: int, dim: int, max_bytes: int) -> bool:
  """Whether [rows, dim] float32 features stay within max_bytes."""
  return rows * dim * 4 <= max_bytes


@dataclasses.dataclass(frozen=True)
class Pool:
  """size M, chunk (samples generated per step), dim D of the search space, max_bytes (see module).

  latents_fn(key, ids [K]) -> (z, noise maps) of pool samples; features_fn(weights, g, z, noise) -> [K, D]
  search-space features of the generated samples (projected when the method searches a projection).
  """

  size: int
  chunk: int
  dim: int
  latents_fn: Callable[[jax.Array, jax.Array], Any]
  features_fn: Callable[..., jax.Array]
  max_bytes: int = DEFAULT_MAX_BYTES

  @property
  def padded(self) -> int:
    return -(-self.size // self.chunk) * self.chunk

  @property
  def fits(self) -> bool:
    return fits(self.padded, self.dim, self.max_bytes)

  def valid(self) -> jax.Array:
    """[P] bool: the rows that are real pool samples (the last chunk may be padded)."""
    return jnp.arange(self.padded) < self.size

  def _chunk_features(self, weights, g, key, start):
    z, noise = self.latents_fn(key, start + jnp.arange(self.chunk, dtype=jnp.int32))
    return self.features_fn(weights, g, z, noise)

  def features(self, weights, g, key) -> tuple[jax.Array, jax.Array]:
    """The whole pool's features [P, D] and their squared norms [P] (generated chunk by chunk)."""
    starts = jnp.arange(0, self.padded, self.chunk, dtype=jnp.int32)
    feats = jax.lax.map(lambda s: self._chunk_features(weights, g, key, s), starts).reshape(self.padded, -1)
    return feats, sq_norms(feats)

  def search(self, queries, weights, g, key, held: tuple[jax.Array, jax.Array] | None = None):
    """Nearest pool sample of each query [n, D]: (ids [n] int32, squared distance [n]).

    held: (features [P, D], norms [P]) of this pool kept from an earlier round (the official reuse: the
    features are those of the generator at the time the pool was made); None generates them now.
    """
    if held is None and self.fits:
      held = self.features(weights, g, key)
    if held is not None:
      return nearest(queries, held[0], held[1], self.valid())
    return nearest_chunked(queries, lambda s: self._chunk_features(weights, g, key, s), self.size, self.chunk)
