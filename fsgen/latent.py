"""Interpolation of latent codes, shared by the methods that walk latent paths (AugIntAE, PPL paths)."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def _perpendicular(u: jax.Array) -> jax.Array:
  """A unit vector [..., D] perpendicular to the unit vector u [..., D] (D >= 2): the basis vector of u's
  smallest |component|, with its part along u removed."""
  e = jax.nn.one_hot(jnp.argmin(jnp.abs(u), -1), u.shape[-1], dtype=u.dtype)
  p = e - jnp.sum(e * u, -1, keepdims=True) * u
  return p / jnp.linalg.norm(p, axis=-1, keepdims=True)


def slerp(a: jax.Array, b: jax.Array, t: jax.Array | float, eps: float = 1e-6) -> jax.Array:
  """Spherical linear interpolation from a (t = 0) to b (t = 1) along the great circle of their directions.

  a, b: [..., D]; t: scalar or [...] (broadcast over D). With Omega the angle between a and b:
    slerp = sin((1 - t) Omega) / sin(Omega) * a + sin(t Omega) / sin(Omega) * b.
  For unit a and b the result has unit norm. Two guards keep values and gradients finite where
  sin(Omega) -> 0:
  - cos(Omega) > 1 - eps (parallel codes): the linear mix, the formula's limit;
  - cos(Omega) < -1 + eps (antipodal codes: every great circle joins them, the formula is 0 / 0): the
    half circle through a fixed direction p perpendicular to a, |.| * (cos(t pi) a/|a| + sin(t pi) p),
    with the norm mixed linearly from |a| to |b| (within the eps band b is reached up to an angle of
    sqrt(2 eps), 1.4e-3 rad at the default).
  """
  t = jnp.asarray(t, a.dtype)
  t = t[..., None] if t.ndim == a.ndim - 1 else t
  na, nb = jnp.linalg.norm(a, axis=-1, keepdims=True), jnp.linalg.norm(b, axis=-1, keepdims=True)
  cos = jnp.sum(a * b, -1, keepdims=True) / (na * nb + 1e-12)
  parallel, antipodal = cos > 1.0 - eps, cos < -1.0 + eps
  # arccos has an infinite slope at +-1: evaluate the slerp branch away from it where a guard is used
  omega = jnp.arccos(jnp.clip(jnp.where(parallel | antipodal, 0.0, cos), -1.0, 1.0))
  wa = jnp.where(parallel, 1.0 - t, jnp.sin((1.0 - t) * omega) / jnp.sin(omega))
  wb = jnp.where(parallel, t, jnp.sin(t * omega) / jnp.sin(omega))
  unit_a = a / (na + 1e-12)
  half_circle = ((1.0 - t) * na + t * nb) * (
    jnp.cos(jnp.pi * t) * unit_a + jnp.sin(jnp.pi * t) * _perpendicular(unit_a)
  )
  return jnp.where(antipodal, half_circle, wa * a + wb * b)
