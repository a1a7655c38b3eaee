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
    return lsgan_d_loss(real_logits, fake_logits)
  raise ValueError(f"unknown GAN loss {kind!r} (known: nonsaturating, hinge, lsgan)")


def lsgan_d_loss(real_out: jax.Array, fake_out: jax.Array, real_target: float = 1.0, fake_target: float = 0.0):
  """LSGAN discriminator loss (Mao et al. 2017, Eq. 2 with b = real_target, a = fake_target), outputs [B]:
  E[(D(x) - b)^2] / 2 + E[(D(G(z)) - a)^2] / 2. The optimal D separates real from fake outputs by at most
  b - a (the 0/1 coding caps the score gap at 1; AugIntAE's k rule needs -1/+1 to exceed it)."""
  return 0.5 * jnp.mean(jnp.square(real_out - real_target)) + 0.5 * jnp.mean(jnp.square(fake_out - fake_target))


def lsgan_g_loss_per_example(fake_out: jax.Array, target: float = 1.0) -> jax.Array:
  """LSGAN generator loss of each example [B] (Mao et al. 2017, Eq. 2 with c = target): (D(G(z)) - c)^2 / 2."""
  return 0.5 * jnp.square(fake_out - target)


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
    return lsgan_g_loss_per_example(fake_logits)
  raise ValueError(f"unknown GAN loss {kind!r} (known: nonsaturating, hinge, lsgan)")


def r1_penalty(d_fn, real: jax.Array) -> jax.Array:
  """R1 (Mescheder et al. 2018): E_x ||grad_x D(x)||^2 on real images x [B, H, W, C].

  Multiply by gamma / 2 (and by the lazy interval when applied every k steps, as StyleGAN2 does).
  `d_fn` maps images [B, H, W, C] to logits [B].
  """
  grads = jax.grad(lambda x: jnp.sum(d_fn(x)))(real)
  return jnp.mean(jnp.sum(jnp.square(grads), axis=(1, 2, 3)))


def mode_seeking_term(images1, images2, z1, z2, eps: float = 1e-5):
  """MSGAN's mode-seeking term (Mao et al. 2019, Eq. 3) as a loss to minimise, for images [B, H, W, C] in
  [-1, 1] (measured on the [0, 1] scale, as LASIUM's official code with its sigmoid images) and codes
  [B, Z]: L_ms = 1 / (mean_b [mean_pixels |x1 - x2| / mean_dims |z1 - z2|] + eps). It grows when two codes
  give the same image, so a generator that ignores z pays for it. Returns (L_ms, the mean ratio)."""
  image_dist = jnp.mean(jnp.abs(images1 - images2), axis=(1, 2, 3)) * 0.5
  z_dist = jnp.mean(jnp.abs(z1 - z2), axis=1)
  ratio = jnp.mean(image_dist / z_dist)
  return 1.0 / (ratio + eps), ratio
