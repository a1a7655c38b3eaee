"""Adversarial losses and R1, shared by every GAN in fsgen. All return scalars (mean over the batch)."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def d_loss(kind: str, *, real_logits: jax.Array, fake_logits: jax.Array) -> jax.Array:
  """Discriminator loss on logits [B].

  nonsaturating (Goodfellow et al. 2014): E[softplus(-D(x))] + E[softplus(D(G(z)))];
  hinge (Lim & Ye 2017): E[relu(1 - D(x))] + E[relu(1 + D(G(z)))].
  """
  if kind == "nonsaturating":
    return jnp.mean(jax.nn.softplus(-real_logits)) + jnp.mean(jax.nn.softplus(fake_logits))
  if kind == "hinge":
    return jnp.mean(jax.nn.relu(1.0 - real_logits)) + jnp.mean(jax.nn.relu(1.0 + fake_logits))
  raise ValueError(f"unknown GAN loss {kind!r} (known: nonsaturating, hinge)")


def g_loss(kind: str, *, fake_logits: jax.Array) -> jax.Array:
  """Generator loss on logits [B]: nonsaturating E[softplus(-D(G(z)))]; hinge -E[D(G(z))]."""
  if kind == "nonsaturating":
    return jnp.mean(jax.nn.softplus(-fake_logits))
  if kind == "hinge":
    return -jnp.mean(fake_logits)
  raise ValueError(f"unknown GAN loss {kind!r} (known: nonsaturating, hinge)")


def r1_penalty(d_fn, real: jax.Array) -> jax.Array:
  """R1 (Mescheder et al. 2018): E_x ||grad_x D(x)||^2 on real images x [B, H, W, C].

  Multiply by gamma / 2 (and by the lazy interval when applied every k steps, as StyleGAN2 does).
  `d_fn` maps images [B, H, W, C] to logits [B].
  """
  grads = jax.grad(lambda x: jnp.sum(d_fn(x)))(real)
  return jnp.mean(jnp.sum(jnp.square(grads), axis=(1, 2, 3)))
