"""The standard light augmentations, on device: random horizontal flip and random crop after padding."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def random_flip(key: jax.Array, x: jax.Array, p: float = 0.5) -> jax.Array:
  """x [B, H, W, C] with each image mirrored left-right with probability p."""
  flip = jax.random.bernoulli(key, p, (x.shape[0],) + (1,) * (x.ndim - 1))
  return jnp.where(flip, x[:, :, ::-1], x)


def random_crop(key: jax.Array, x: jax.Array, pad: int, fill: str | float = "edge") -> jax.Array:
  """x [B, H, W, C] padded by `pad` on each side, then a random H x W window per image.

  fill: a constant (e.g. -1.0, the black background of [-1, 1] images), "edge" (repeat the border: the
  image's own background for characters and product photos) or "reflect".
  """
  if not pad:
    return x
  b, h, w, c = x.shape
  widths = ((0, 0), (pad, pad), (pad, pad), (0, 0))
  if isinstance(fill, str):
    if fill not in ("edge", "reflect"):
      raise ValueError(f"random_crop fill must be a number, 'edge' or 'reflect', got {fill!r}")
    padded = jnp.pad(x, widths, mode=fill)
  else:
    padded = jnp.pad(x, widths, constant_values=fill)
  ky, kx = jax.random.split(key)
  oy = jax.random.randint(ky, (b,), 0, 2 * pad + 1)
  ox = jax.random.randint(kx, (b,), 0, 2 * pad + 1)
  return jax.vmap(lambda im, y0, x0: jax.lax.dynamic_slice(im, (y0, x0, 0), (h, w, c)))(padded, oy, ox)
