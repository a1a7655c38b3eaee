"""AugIntAE encoders, decoders and discriminator (paper A.1, reference notes Sec. 4).

InfoGAN (28 px handwriting; the InfoGAN MNIST nets, latent 32):
  Encoder: conv 64 4x4 s2, lReLU -> conv 128 4x4 s2, norm, lReLU -> FC 1024, norm, lReLU -> FC out.
  Decoder: FC 1024, norm, ReLU -> FC (R/4)^2 x 128, norm, ReLU -> up 64, norm, ReLU -> up C -> tanh.
DCGAN (colour images, latent 512): Encoder: 4x4 stride-2 convs (width w, 2w, 4w, ... down to 4x4), lReLU,
  norm from the second on -> FC out; Decoder: fsgen.nets.dcgan.Generator.
The discriminator "uses the encoder's architecture, with one output unit" (paper A.1): Encoder(out=1).
Encoders L2-normalise their output when `unit=True` (AugIntAE's latent space; off for the discriminator).

Departures, library-wide (DESIGN.md): batch norm -> ProGAN pixel norm (stateless and per example, so
AugIntAE's per-image gradient norms are exact, there are no batch statistics to thread and one device
equals four); stride-2 transposed convs -> sub-pixel upsampling (same shapes, ~15x faster gradients on
XLA:CPU); tanh output on [-1, 1] images instead of InfoGAN's Bernoulli logits (the sigmoid on [0, 1]).
The leaky slope is InfoGAN's code value, 0.01 (its paper says 0.1).
"""

from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from fsgen.nets import dcgan
from fsgen.nets.layers import SubPixelUp, pixel_norm

LEAK = 0.01


def _unit(z: jax.Array) -> jax.Array:
  return z / (jnp.linalg.norm(z, axis=-1, keepdims=True) + 1e-8)


class InfoGANEncoder(nn.Module):
  """[B, R, R, C] -> [B, out] (unit rows when `unit`); R divisible by 4."""
  out: int = 32
  width: int = 64
  hidden: int = 1024
  unit: bool = True

  @nn.compact
  def __call__(self, x):
    if x.shape[1] % 4:
      raise ValueError(f"the InfoGAN encoder needs a resolution divisible by 4, got {x.shape[1]}")
    h = nn.leaky_relu(nn.Conv(self.width, (4, 4), 2, padding=((1, 1), (1, 1)))(x), LEAK)
    h = nn.Conv(2 * self.width, (4, 4), 2, padding=((1, 1), (1, 1)))(h)
    h = nn.leaky_relu(pixel_norm(h), LEAK).reshape(x.shape[0], -1)
    h = nn.leaky_relu(pixel_norm(nn.Dense(self.hidden)(h)), LEAK)
    z = nn.Dense(self.out)(h)
    return _unit(z) if self.unit else z


class InfoGANDecoder(nn.Module):
  """[B, D] -> [B, R, R, C] in [-1, 1]."""
  resolution: int = 28
  channels: int = 1
  width: int = 64
  hidden: int = 1024

  @nn.compact
  def __call__(self, z):
    s = self.resolution // 4
    h = nn.relu(pixel_norm(nn.Dense(self.hidden)(z)))
    h = nn.relu(pixel_norm(nn.Dense(s * s * 2 * self.width)(h))).reshape(z.shape[0], s, s, 2 * self.width)
    h = nn.relu(pixel_norm(SubPixelUp(self.width)(h)))
    return jnp.tanh(SubPixelUp(self.channels)(h))


class DCGANEncoder(nn.Module):
  """[B, R, R, C] -> [B, out]: stride-2 4x4 convs down to 4x4, then FC (R in 16..128)."""
  out: int = 512
  width: int = 64
  unit: bool = True

  @nn.compact
  def __call__(self, x):
    levels = int(math.log2(x.shape[1])) - 2
    if x.shape[1] not in (16, 32, 64, 128):
      raise ValueError(f"the DCGAN encoder supports resolution 16, 32, 64 or 128, got {x.shape[1]}")
    h = x
    for i in range(levels):
      h = nn.Conv(self.width * 2 ** min(i, 3), (4, 4), 2, padding=((1, 1), (1, 1)))(h)
      h = nn.leaky_relu(pixel_norm(h) if i else h, 0.2)
    z = nn.Dense(self.out)(h.reshape(x.shape[0], -1))
    return _unit(z) if self.unit else z


def build(arch: str, *, resolution: int, channels: int, latent_dim: int, width: int):
  """(encoder, decoder, discriminator) of `arch` ("infogan" or "dcgan"); D outputs [B, 1]."""
  if arch == "infogan":
    if resolution % 4:
      raise ValueError(f"the InfoGAN autoencoder needs a resolution divisible by 4, got {resolution}")
    return (InfoGANEncoder(out=latent_dim, width=width), InfoGANDecoder(resolution, channels, width),
            InfoGANEncoder(out=1, width=width, unit=False))
  if arch == "dcgan":
    return (DCGANEncoder(out=latent_dim, width=width),
            dcgan.Generator(resolution=resolution, channels=channels, width=width),
            DCGANEncoder(out=1, width=width, unit=False))
  raise ValueError(f"unknown autoencoder architecture {arch!r} (known: infogan, dcgan)")
