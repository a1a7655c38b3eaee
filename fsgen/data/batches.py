"""Drawing batches inside jitted code from the on-device dataset."""

from __future__ import annotations

import jax

from fsgen.data.preprocess import to_float
from fsgen.parallel import shard_batch


def draw_indices(key: jax.Array, n: int, batch_size: int) -> jax.Array:
  """int32 [batch_size] indices into a set of n: without replacement when batch_size <= n."""
  if batch_size <= n:
    return jax.random.permutation(key, n)[:batch_size]
  return jax.random.randint(key, (batch_size,), 0, n)


def draw(key: jax.Array, images: jax.Array, batch_size: int, labels: jax.Array | None = None):
  """A float batch [B, H, W, C] in [-1, 1] (and labels [B]) sharded over the `data` mesh axis.

  Args:
    key: PRNG key (derive it from the step: same step, same batch).
    images: uint8 [N, H, W, C] device array (replicated).
    batch_size: global batch size B.
    labels: optional int32 [N].
  """
  idx = draw_indices(key, images.shape[0], batch_size)
  x = shard_batch(to_float(images[idx]))
  if labels is None:
    return x
  return x, shard_batch(labels[idx])
