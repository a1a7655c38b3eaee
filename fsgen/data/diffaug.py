"""DiffAugment (Zhao et al., NeurIPS 2020): differentiable color, translation and cutout in JAX.

Applied to both real and generated batches before the discriminator, with the same policy; every op is
differentiable with respect to the images, so the generator is trained through it. Constants follow the
official DiffAugment code: brightness +-0.5, saturation x[0, 2], contrast x[0.5, 1.5], translation by up
to 1/8 of the side (zero padded), one cutout square of half the side (zero filled).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def _color(key, x):
  kb, ks, kc = jax.random.split(key, 3)
  b = x.shape[0]
  x = x + (jax.random.uniform(kb, (b, 1, 1, 1)) - 0.5)
  mean = x.mean(axis=3, keepdims=True)
  x = (x - mean) * (jax.random.uniform(ks, (b, 1, 1, 1)) * 2.0) + mean
  mean = x.mean(axis=(1, 2, 3), keepdims=True)
  return (x - mean) * (jax.random.uniform(kc, (b, 1, 1, 1)) + 0.5) + mean


def _translation(key, x, ratio=0.125):
  b, h, w, _ = x.shape
  sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
  ky, kx = jax.random.split(key)
  dy = jax.random.randint(ky, (b,), -sh, sh + 1)
  dx = jax.random.randint(kx, (b,), -sw, sw + 1)
  padded = jnp.pad(x, ((0, 0), (sh, sh), (sw, sw), (0, 0)))
  # Output pixel (i, j) reads input (i - dy, j - dx): a window of the padded image starting at sh - dy.
  crop = lambda img, oy, ox: jax.lax.dynamic_slice(img, (sh - oy, sw - ox, 0), (h, w, x.shape[3]))
  return jax.vmap(crop)(padded, dy, dx)


def _cutout(key, x, ratio=0.5):
  b, h, w, _ = x.shape
  ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
  ky, kx = jax.random.split(key)
  cy = jax.random.randint(ky, (b, 1, 1), 0, h + (1 - ch % 2))
  cx = jax.random.randint(kx, (b, 1, 1), 0, w + (1 - cw % 2))
  rows = jnp.arange(h)[None, :, None]
  cols = jnp.arange(w)[None, None, :]
  inside = (rows >= cy - ch // 2) & (rows < cy - ch // 2 + ch) & (cols >= cx - cw // 2) & (cols < cx - cw // 2 + cw)
  return x * (1.0 - inside[..., None].astype(x.dtype))


OPS = {"color": _color, "translation": _translation, "cutout": _cutout}


def diff_augment(key: jax.Array, x: jax.Array, policy: str = "color,translation,cutout") -> jax.Array:
  """Applies the comma-separated `policy` to x [B, H, W, C] (float, [-1, 1]); '' returns x unchanged."""
  ops = [p for p in policy.split(",") if p]
  unknown = [p for p in ops if p not in OPS]
  if unknown:
    raise ValueError(f"unknown DiffAugment op {unknown[0]!r} in policy {policy!r} (known: {', '.join(OPS)})")
  for i, name in enumerate(ops):
    x = OPS[name](jax.random.fold_in(key, i), x)
  return x
