"""Parametric augmentations whose parameter vectors can be interpolated (AugIntAE, paper Sec. 3 and A.1).

An augmentation is a parameter vector rho [P] with P = 9:
  rho = (rotation deg, translation x px, translation y px, scale, shear deg,
         brightness factor, contrast factor, saturation factor, hue shift in turns)
and T(x; rho) applies one affine warp about the image centre (content moved by translation . rotation .
shear . scale, bilinear resampling) and then colour jitter (brightness, contrast, saturation, hue, in this
order). Interpolating rho elementwise, alpha * rho_1 + (1 - alpha) * rho_2, gives the augmentation "in
between", with alpha weighting rho_1 as in the paper's Eq. 1 (its worked example, 10 and -5 degrees giving
5 degrees at alpha = 1/3, measures alpha from the other end; alpha is symmetric, so it makes no difference
in training). The paper
does not give the composition order, the units or how scale is interpolated: we use degrees and pixels,
the order above and a linear scale (reference notes, Sec. 2.3).
Hue is shifted by rotating the chroma plane of YIQ (an approximation of an HSV hue shift that is linear
and differentiable). Images are floats in [-1, 1], [B, H, W, C]; colour jitter needs C = 3 and is a no-op
at its identity parameters (1, 1, 1, 0).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import ml_collections

NUM_PARAMS = 9
IDENTITY = (0.0, 0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 1.0, 0.0)
FILL_MODES = ("nearest", "mirror", "constant")


def ranges_for(kind: str) -> ml_collections.ConfigDict:
  """The paper's sampling ranges (A.1): 'characters' (28 px handwriting) or 'natural' (colour images)."""
  if kind == "characters":
    return ml_collections.ConfigDict(
      dict(
        rotation=20.0,
        translation=4.0,
        scale=(0.8, 1.2),
        shear=6.0,
        brightness=0.0,
        contrast=0.0,
        saturation=0.0,
        hue=0.0,
      )
    )
  if kind == "natural":  # half the rotation and skew, double the translation, colour jitter
    return ml_collections.ConfigDict(
      dict(
        rotation=10.0,
        translation=8.0,
        scale=(0.8, 1.2),
        shear=3.0,
        brightness=0.25,
        contrast=0.25,
        saturation=0.25,
        hue=0.05,
      )
    )
  raise ValueError(f"augmentation ranges must be 'characters' or 'natural', got {kind!r}")


def sample_params(key: jax.Array, n: int, ranges) -> jax.Array:
  """rho [n, 9], each entry uniform over its range: rotation in [-r, r], translation in [-t, t] (x and y
  separately), scale in [lo, hi], shear in [-s, s], colour factors in [1 - j, 1 + j], hue in [-h, h]."""
  lo_s, hi_s = ranges.scale
  lo = jnp.array(
    [
      -ranges.rotation,
      -ranges.translation,
      -ranges.translation,
      lo_s,
      -ranges.shear,
      1 - ranges.brightness,
      1 - ranges.contrast,
      1 - ranges.saturation,
      -ranges.hue,
    ],
    jnp.float32,
  )
  hi = jnp.array(
    [
      ranges.rotation,
      ranges.translation,
      ranges.translation,
      hi_s,
      ranges.shear,
      1 + ranges.brightness,
      1 + ranges.contrast,
      1 + ranges.saturation,
      ranges.hue,
    ],
    jnp.float32,
  )
  return lo + (hi - lo) * jax.random.uniform(key, (n, NUM_PARAMS))


def _inverse_affine(rho: jax.Array) -> jax.Array:
  """The 2x2 inverse of rotation . shear . scale for one rho [9] (x right, y down)."""
  theta, phi = jnp.deg2rad(rho[0]), jnp.deg2rad(rho[4])
  rot = jnp.array([[jnp.cos(theta), -jnp.sin(theta)], [jnp.sin(theta), jnp.cos(theta)]])
  shear = jnp.array([[1.0, jnp.tan(phi)], [0.0, 1.0]])
  return jnp.linalg.inv(rot @ shear * rho[3])


def warp(image: jax.Array, rho: jax.Array, fill: str = "nearest") -> jax.Array:
  """One image [H, W, C] moved by the affine part of rho [9]; pixels from outside by `fill`
  ('nearest' = edge pixel, 'mirror' = symmetric padding as the paper uses for CIFAR, 'constant' = -1)."""
  if fill not in FILL_MODES:
    raise ValueError(f"warp fill must be one of {FILL_MODES}, got {fill!r}")
  h, w, c = image.shape
  ys, xs = jnp.meshgrid(jnp.arange(h, dtype=jnp.float32), jnp.arange(w, dtype=jnp.float32), indexing="ij")
  cy, cx = (h - 1) / 2.0, (w - 1) / 2.0
  out = jnp.stack([xs - cx - rho[1], ys - cy - rho[2]])  # [2, H, W], output pixel relative to the centre
  src = jnp.einsum("ij,jhw->ihw", _inverse_affine(rho), out)
  coords = [src[1] + cy, src[0] + cx]
  channels = [jax.scipy.ndimage.map_coordinates(image[..., k], coords, order=1, mode=fill, cval=-1.0) for k in range(c)]
  return jnp.stack(channels, -1)


_YIQ = jnp.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]], jnp.float32)


def colour_jitter(image: jax.Array, rho: jax.Array) -> jax.Array:
  """Brightness, contrast, saturation and hue of one RGB image [H, W, 3] in [-1, 1] by rho[5:9]."""
  x = (image + 1.0) / 2.0
  x = jnp.clip(x * rho[5], 0.0, 1.0)
  gray = x @ _YIQ[0]
  x = jnp.clip(gray.mean() + rho[6] * (x - gray.mean()), 0.0, 1.0)
  gray = (x @ _YIQ[0])[..., None]
  x = jnp.clip(gray + rho[7] * (x - gray), 0.0, 1.0)
  a = 2.0 * math.pi * rho[8]
  rot = jnp.array([[1.0, 0.0, 0.0], [0.0, jnp.cos(a), -jnp.sin(a)], [0.0, jnp.sin(a), jnp.cos(a)]])
  x = jnp.clip(x @ (jnp.linalg.inv(_YIQ) @ rot @ _YIQ).T, 0.0, 1.0)
  return x * 2.0 - 1.0


def apply(images: jax.Array, rho: jax.Array, fill: str = "nearest") -> jax.Array:
  """T(x; rho) for a batch: images [B, H, W, C] in [-1, 1], rho [B, 9] -> [B, H, W, C]."""
  out = jax.vmap(lambda x, r: warp(x, r, fill))(images, rho)
  if images.shape[-1] == 3:
    out = jax.vmap(colour_jitter)(out, rho)
  return out


def interpolation_alpha(key: jax.Array, n: int) -> jax.Array:
  """alpha [n] = the mean of two U(0, 1) draws: triangular on [0, 1], peaked at 1/2 (paper A.1)."""
  return jax.random.uniform(key, (n, 2)).mean(-1)


def triplet(key: jax.Array, images: jax.Array, ranges, fill: str = "nearest"):
  """(A, B, C, alpha) from one batch x [B, H, W, C] (paper Sec. 3): A = T(x; rho_1), B = T(x; rho_2),
  C = T(x; alpha rho_1 + (1 - alpha) rho_2), alpha [B] triangular."""
  k1, k2, ka = jax.random.split(key, 3)
  n = images.shape[0]
  rho1, rho2 = sample_params(k1, n, ranges), sample_params(k2, n, ranges)
  alpha = interpolation_alpha(ka, n)
  rho_c = alpha[:, None] * rho1 + (1.0 - alpha[:, None]) * rho2
  return apply(images, rho1, fill), apply(images, rho2, fill), apply(images, rho_c, fill), alpha
