"""Adversarial losses and R1, shared by every GAN in fsgen. All return scalars (mean over the batch)."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def d_loss(kind: str, *, real_logits: jax.Array, fake_logits: jax.Array) -> jax.Array:
  """Discriminator loss on logits [B].

  nonsaturating (Goodfellow et al. 2014): E[softplus(-D(x))] + E[softplus(D(G(z)))];
  hinge (Lim & Ye 2017): E[relu(1 - D(x))] + E[relu(1 + D(G(z)))];
  lsgan (Mao et al. 2017, targets real 1, fake 0): E[(D(x) - 1)^2] / 2 + E[D(G(z))^2] / 2.
  """
  if kind == "nonsaturating":
    return jnp.mean(jax.nn.softplus(-real_logits)) + jnp.mean(jax.nn.softplus(fake_logits))
  if kind == "hinge":
    return jnp.mean(jax.nn.relu(1.0 - real_logits)) + jnp.mean(jax.nn.relu(1.0 + fake_logits))
  if kind == "lsgan":
    return 0.5 * jnp.mean(jnp.square(real_logits - 1.0)) + 0.5 * jnp.mean(jnp.square(fake_logits))
  raise ValueError(f"unknown GAN loss {kind!r} (known: nonsaturating, hinge, lsgan)")


def g_loss(kind: str, *, fake_logits: jax.Array) -> jax.Array:
  """Generator loss on logits [B]: nonsaturating E[softplus(-D(G(z)))]; hinge -E[D(G(z))];
  lsgan E[(D(G(z)) - 1)^2] / 2. The mean of `g_loss_per_example`."""
  return jnp.mean(g_loss_per_example(kind, fake_logits=fake_logits))


def g_loss_per_example(kind: str, *, fake_logits: jax.Array) -> jax.Array:
  """The generator loss of each example [B] (AugIntAE rescales them one by one)."""
  if kind == "nonsaturating":
    return jax.nn.softplus(-fake_logits)
  if kind == "hinge":
    return -fake_logits
  if kind == "lsgan":
    return 0.5 * jnp.square(fake_logits - 1.0)
  raise ValueError(f"unknown GAN loss {kind!r} (known: nonsaturating, hinge, lsgan)")


def r1_penalty(d_fn, real: jax.Array) -> jax.Array:
  """R1 (Mescheder et al. 2018): E_x ||grad_x D(x)||^2 on real images x [B, H, W, C].

  Multiply by gamma / 2 (and by the lazy interval when applied every k steps, as StyleGAN2 does).
  `d_fn` maps images [B, H, W, C] to logits [B].
  """
  grads = jax.grad(lambda x: jnp.sum(d_fn(x)))(real)
  return jnp.mean(jnp.sum(jnp.square(grads), axis=(1, 2, 3)))
