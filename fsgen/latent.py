"""Interpolation of latent codes, shared by the methods that walk latent paths (AugIntAE, PPL paths)."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def slerp(a: jax.Array, b: jax.Array, t: jax.Array | float, eps: float = 1e-6) -> jax.Array:
  """Spherical linear interpolation from a (t = 0) to b (t = 1) along the great circle of their directions.

  a, b: [..., D]; t: scalar or [...] (broadcast over D). With Omega the angle between a and b:
    slerp = sin((1 - t) Omega) / sin(Omega) * a + sin(t Omega) / sin(Omega) * b.
  For unit a and b the result has unit norm. Where cos(Omega) > 1 - eps (parallel codes) it falls back to the
  linear mix (the limit of the formula), with finite gradients.
  """
  t = jnp.asarray(t, a.dtype)
  t = t[..., None] if t.ndim == a.ndim - 1 else t
  cos = jnp.sum(a * b, -1, keepdims=True) / (
    jnp.linalg.norm(a, axis=-1, keepdims=True) * jnp.linalg.norm(b, axis=-1, keepdims=True) + 1e-12
  )
  small = cos > 1.0 - eps
  # arccos has an infinite slope at 1: evaluate the slerp branch away from it where the linear one is used
  omega = jnp.arccos(jnp.clip(jnp.where(small, 0.0, cos), -1.0, 1.0))
  wa = jnp.where(small, 1.0 - t, jnp.sin((1.0 - t) * omega) / jnp.sin(omega))
  wb = jnp.where(small, t, jnp.sin(t * omega) / jnp.sin(omega))
  return wa * a + wb * b
