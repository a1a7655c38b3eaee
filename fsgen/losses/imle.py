"""The (Adaptive) IMLE distance as a flat feature map, so that one matrix product searches it exactly.

Official loss and per-example distance (AdaIMLE train.py, images in [-1, 1]):
  L(x_hat, x) = lpips_coef * LPIPS(x_hat, x) + l2_coef * mean_pixels((x_hat - x)^2)   (1.0 and 0.1)

Written as features phi, L(a, b) = ||phi(a) - phi(b)||^2 exactly:
  pixel part:  sqrt(l2_coef / (H W C)) * flatten(x)
  LPIPS part:  sqrt(lpips_coef) * LPIPS "feature form" (each unit-normalised tap times sqrt(w_c) divided
               by sqrt(H_l W_l), concatenated; metrics_and_weights.md Sec. 3): fsgen.nets.lpips at the
               training resolution (the official code runs LPIPS-VGG at 256 px). Its weights (the
               fsgen.assets entry `Distance.asset`) are an argument: the method keeps them in state["frozen"].
`config.imle.features` picks the part besides pixels: "pixel" (pixels only), "lpips_alex", "lpips_vgg".

The same phi serves as the training loss (batch mean of L), the thresholds' distance and the search space,
so the nearest-neighbour search finds exactly the sample that minimises the loss. An optional Gaussian
random projection (proj_dim > 0, entries N(0, 1 / proj_dim) so squared distances are preserved in
expectation) shrinks the search space only; the loss stays exact.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from fsgen.nets import lpips

FEATURES = ("pixel", "lpips_alex", "lpips_vgg")
_MAX_PROJECTION_FLOATS = 1 << 28  # 1 GiB of float32


@dataclasses.dataclass(frozen=True)
class Distance:
  """phi as a pure function of (frozen feature-network weights, images [B, H, W, C]) -> [B, D].

  The weights are an argument: the caller loads the asset named `asset` (fsgen.assets; None for "pixel")
  once, keeps it in state["frozen"] and passes it in. dim: D for the configured image size.
  """

  name: str
  asset: str | None
  fn: Callable[[Any, jax.Array], jax.Array]
  dim: int

  def features(self, weights, images: jax.Array) -> jax.Array:
    """phi(images) [B, D] for images [B, H, W, C] in [-1, 1]."""
    return self.fn(weights, images)

  def pairwise(self, weights, a: jax.Array, b: jax.Array) -> jax.Array:
    """L(a_i, b_i) for images a, b [B, H, W, C] -> [B] (the per-example IMLE distance)."""
    return jnp.sum(jnp.square(self.features(weights, a) - self.features(weights, b)), axis=1)


def pixel_features(images: jax.Array, l2_coef: float) -> jax.Array:
  """[B, H, W, C] -> [B, H W C] with ||phi(a) - phi(b)||^2 = l2_coef * mean((a - b)^2)."""
  flat = images.reshape(images.shape[0], -1).astype(jnp.float32)
  return flat * jnp.sqrt(l2_coef / flat.shape[1])


def build(
  name: str, *, resolution: int, channels: int = 3, l2_coef: float = 0.1, lpips_coef: float = 1.0, lpips_size: int = 0
) -> Distance:
  """The IMLE distance for images [B, resolution, resolution, channels] in [-1, 1] (no weights loaded).

  lpips_size: the side at which LPIPS sees the images (bilinear resize; 0 = `resolution`, as the official
  code). At 32 px AlexNet's relu3-5 taps are 1x1, global descriptors that prefer sharp noise to blur;
  2x (64 px) gives them spatial extent. The pixel term always stays at `resolution`.
  """
  if name not in FEATURES:
    raise ValueError(f"unknown config.imle.features {name!r} (known: {', '.join(FEATURES)})")
  probe = jax.ShapeDtypeStruct((1, resolution, resolution, channels), jnp.float32)
  if name == "pixel":
    return Distance(name, None, lambda weights, x: pixel_features(x, l2_coef), resolution * resolution * channels)
  if channels != 3:
    raise ValueError(f"config.imle.features={name!r} needs 3-channel images, got {channels}")
  model = lpips.LPIPSNet(name.split("_", 1)[1])
  side = lpips_size or resolution

  def lpips_input(x):
    return x if side == resolution else jax.image.resize(x, (x.shape[0], side, side, x.shape[3]), "bilinear")

  def fn(weights, x):
    feats = lpips.flatten(model.apply({"params": weights}, lpips_input(x)))
    parts = [jnp.sqrt(lpips_coef) * feats] if lpips_coef else []
    return jnp.concatenate(parts + [pixel_features(x, l2_coef)], axis=1)

  shapes = jax.eval_shape(lambda x: model.init(jax.random.key(0), lpips_input(x))["params"], probe)  # no weights needed
  return Distance(name, name, fn, int(jax.eval_shape(fn, shapes, probe).shape[1]))


def projection(key: jax.Array, dim: int, proj_dim: int) -> jax.Array:
  """Gaussian [dim, proj_dim] with N(0, 1 / proj_dim) entries: E ||(a - b) R||^2 = ||a - b||^2."""
  if dim * proj_dim > _MAX_PROJECTION_FLOATS:
    raise ValueError(
      f"config.imle.proj_dim={proj_dim} over {dim} features needs a {dim}x{proj_dim} matrix "
      f"(> 1 GiB); use proj_dim=0 (exact search, cheaper when n < proj_dim)"
    )
  return jax.random.normal(key, (dim, proj_dim)) / jnp.sqrt(proj_dim)
