"""Laplacian-pyramid reconstruction loss (COLA Eq. 5; "Lap1" of GLO, Bojanowski et al. 2018).

  L_lap(x, x') = |x - x'| + gamma * sum_{i=1..k} 2^(e*i) |L_i(x) - L_i(x')|,  e = weight_exponent = -2

with L_1 the finest band. Bands: band = x - blur(x), next level = avgpool2(blur(x)); the low-pass residual
after k bands is level k+1 (weight 2^(e*(k+1))). Blur: separable 5-tap Gaussian (sigma 1) with reflect
padding. |.| is a per-level mean (reduction="mean") or sum over pixels and channels (reduction="sum"),
then averaged over the batch. Choices the paper leaves open follow ../shared/reference/cola.md, 3.5.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def gaussian_kernel(size: int = 5, sigma: float = 1.0) -> np.ndarray:
  """Normalised 1-D Gaussian taps, float32 [size]."""
  r = np.arange(size, dtype=np.float64) - (size - 1) / 2
  k = np.exp(-0.5 * (r / sigma) ** 2)
  return (k / k.sum()).astype(np.float32)


def blur(x: jax.Array, kernel: np.ndarray) -> jax.Array:
  """Separable blur of x [B, H, W, C] with reflect padding (same shape out)."""
  p = len(kernel) // 2
  x = jnp.pad(x, ((0, 0), (p, p), (p, p), (0, 0)), mode="reflect")
  h, w = x.shape[1] - 2 * p, x.shape[2] - 2 * p
  x = sum(kernel[i] * x[:, i : i + h, :, :] for i in range(len(kernel)))
  return sum(kernel[i] * x[:, :, i : i + w, :] for i in range(len(kernel)))


def _avgpool2(x: jax.Array) -> jax.Array:
  b, h, w, c = x.shape
  x = x[:, : h - h % 2, : w - w % 2, :]
  return x.reshape(b, h // 2, 2, w // 2, 2, c).mean(axis=(2, 4))


def pyramid(x: jax.Array, levels: int, kernel: np.ndarray) -> list[jax.Array]:
  """[band_1 (finest), ..., band_levels, low-pass residual] of x [B, H, W, C]."""
  out = []
  for _ in range(levels):
    low = blur(x, kernel)
    out.append(x - low)
    x = _avgpool2(low)
  out.append(x)
  return out


def laplacian_pyramid_loss(
  x: jax.Array,
  y: jax.Array,
  *,
  levels: int = 3,
  gamma: float = 1.0,
  weight_exponent: float = -2.0,
  reduction: str = "mean",
  kernel_size: int = 5,
  sigma: float = 1.0,
) -> jax.Array:
  """Eq. 5 between x and y, float [B, H, W, C] in the same range; returns a scalar (batch mean)."""
  if reduction not in ("mean", "sum"):
    raise ValueError(f"laplacian_pyramid_loss reduction must be 'mean' or 'sum', got {reduction!r}")
  red = (lambda d: jnp.mean(d, axis=(1, 2, 3))) if reduction == "mean" else (lambda d: jnp.sum(d, (1, 2, 3)))
  kernel = gaussian_kernel(kernel_size, sigma)
  total = red(jnp.abs(x - y))
  for i, (a, b) in enumerate(zip(pyramid(x, levels, kernel), pyramid(y, levels, kernel)), start=1):
    total = total + gamma * 2.0 ** (weight_exponent * i) * red(jnp.abs(a - b))
  return jnp.mean(total)
