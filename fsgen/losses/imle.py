"""The (Adaptive) IMLE distance as a flat feature map, so that one matrix product searches it exactly.

Official loss and per-example distance (AdaIMLE train.py, images in [-1, 1]):
  L(x_hat, x) = lpips_coef * LPIPS(x_hat, x) + l2_coef * mean_pixels((x_hat - x)^2)   (1.0 and 0.1)

Written as features phi, L(a, b) = ||phi(a) - phi(b)||^2 exactly:
  pixel part:  sqrt(l2_coef / (H W C)) * flatten(x)
  LPIPS part:  sqrt(lpips_coef) * LPIPS "feature form" (each unit-normalised tap times sqrt(w_c) divided
               by sqrt(H_l W_l), concatenated; metrics_and_weights.md Sec. 3): fsgen.nets.lpips at the
               training resolution (the official code runs LPIPS-VGG at 256 px), weights by fsgen.assets.
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

FEATURES = ("pixel", "lpips_alex", "lpips_vgg")
_MAX_PROJECTION_FLOATS = 1 << 28  # 1 GiB of float32


@dataclasses.dataclass(frozen=True)
class Distance:
  """phi as a pure function of (constant feature-network params, images [B, H, W, C]) -> [B, D].

  params: LPIPS backbone + lin-head params (None for "pixel"); pass them as a jit argument or close
  over them. dim: D for the configured image size.
  """

  name: str
  params: Any
  fn: Callable[[Any, jax.Array], jax.Array]
  dim: int

  def features(self, images: jax.Array, params=None) -> jax.Array:
    return self.fn(self.params if params is None else params, images)

  def pairwise(self, a: jax.Array, b: jax.Array, params=None) -> jax.Array:
    """L(a_i, b_i) for images a, b [B, H, W, C] -> [B] (the per-example IMLE distance)."""
    return jnp.sum(jnp.square(self.features(a, params) - self.features(b, params)), axis=1)


def pixel_features(images: jax.Array, l2_coef: float) -> jax.Array:
  """[B, H, W, C] -> [B, H W C] with ||phi(a) - phi(b)||^2 = l2_coef * mean((a - b)^2)."""
  flat = images.reshape(images.shape[0], -1).astype(jnp.float32)
  return flat * jnp.sqrt(l2_coef / flat.shape[1])


def _lpips(net: str):
  """(params, fn(params, x [B, H, W, 3]) -> [B, D]): LPIPS feature form from fsgen.nets.lpips."""
  from fsgen import assets  # pylint: disable=import-outside-toplevel
  from fsgen.nets import lpips  # pylint: disable=import-outside-toplevel

  model = lpips.LPIPSNet(net)
  params = jax.tree.map(jnp.asarray, assets.load(f"lpips_{net}"))
  return params, lambda p, x: lpips.flatten(model.apply({"params": p}, x))


def build(name: str, *, resolution: int, channels: int = 3, l2_coef: float = 0.1, lpips_coef: float = 1.0) -> Distance:
  """The IMLE distance for images [B, resolution, resolution, channels] in [-1, 1]."""
  if name not in FEATURES:
    raise ValueError(f"unknown config.imle.features {name!r} (known: {', '.join(FEATURES)})")
  probe = jnp.zeros((1, resolution, resolution, channels), jnp.float32)
  if name == "pixel":
    fn = lambda params, x: pixel_features(x, l2_coef)
    return Distance(name, None, fn, resolution * resolution * channels)
  if channels != 3:
    raise ValueError(f"config.imle.features={name!r} needs 3-channel images, got {channels}")
  params, feature_fn = _lpips(name.split("_", 1)[1])

  def fn(p, x):
    parts = [jnp.sqrt(lpips_coef) * feature_fn(p, x)] if lpips_coef else []
    return jnp.concatenate(parts + [pixel_features(x, l2_coef)], axis=1)

  return Distance(name, params, fn, int(jax.eval_shape(fn, params, probe).shape[1]))


def projection(key: jax.Array, dim: int, proj_dim: int) -> jax.Array:
  """Gaussian [dim, proj_dim] with N(0, 1 / proj_dim) entries: E ||(a - b) R||^2 = ||a - b||^2."""
  if dim * proj_dim > _MAX_PROJECTION_FLOATS:
    raise ValueError(
      f"config.imle.proj_dim={proj_dim} over {dim} features needs a {dim}x{proj_dim} matrix "
      f"(> 1 GiB); use proj_dim=0 (exact search, cheaper when n < proj_dim)"
    )
  return jax.random.normal(key, (dim, proj_dim)) / jnp.sqrt(proj_dim)
