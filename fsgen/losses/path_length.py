"""StyleGAN2's path-length regularisation (Karras et al. 2020, Sec. 3.2, Eq. 4):

  E_{w, y ~ N(0, I)} (||J_w^T y||_2 - a)^2,   y scaled by 1 / sqrt(H W),

with J_w the Jacobian of the synthesis network at the per-layer codes w, the norm taken per layer and
averaged over layers as rosinality's `g_path_regularize` (sqrt(mean_l sum_k grad^2)), and a the running
mean of the lengths (decay `decay`, kept by the caller).
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp


def path_lengths(synthesize: Callable, ws: jax.Array, key: jax.Array) -> jax.Array:
  """||J_w^T y|| per sample [B] of `synthesize`: codes ws [B, L, W] -> images [B, H, W, C]."""
  images, vjp = jax.vjp(synthesize, ws)
  noise = jax.random.normal(key, images.shape) / jnp.sqrt(images.shape[1] * images.shape[2])
  (grad,) = vjp(noise)
  return jnp.sqrt(jnp.mean(jnp.sum(jnp.square(grad), axis=2), axis=1))


def path_length_penalty(
  synthesize: Callable, ws: jax.Array, key: jax.Array, pl_mean: jax.Array, decay: float = 0.01
) -> tuple[jax.Array, jax.Array]:
  """(penalty mean_b (l_b - a')^2, new running mean a') with a' = a + decay (mean_b l_b - a).

  As NVIDIA's StyleGAN2 and rosinality's port, a' is not held fixed inside the penalty (its dependence on
  this batch adds a decay/B-weighted term to the gradient); the returned a' is detached.
  """
  lengths = path_lengths(synthesize, ws, key)
  new_mean = pl_mean + decay * (jnp.mean(lengths) - pl_mean)
  return jnp.mean(jnp.square(lengths - new_mean)), jax.lax.stop_gradient(new_mean)
