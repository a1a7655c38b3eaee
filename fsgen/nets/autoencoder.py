"""AugIntAE encoders, decoders and discriminator (paper A.1, reference notes Sec. 4).

InfoGAN (28 px handwriting; the InfoGAN MNIST nets, latent 32):
  Encoder: conv 64 4x4 s2, lReLU -> conv 128 4x4 s2, norm, lReLU -> FC 1024, norm, lReLU -> FC out.
  Decoder: FC 1024, norm, ReLU -> FC (R/4)^2 x 128, norm, ReLU -> up 64, norm, ReLU -> up C -> tanh.
DCGAN (colour images, latent 512): Encoder: 4x4 stride-2 convs (width w, 2w, 4w, ... down to 4x4), lReLU,
  norm from the second on -> FC out; Decoder (DCGAN's generator): FC to 4x4, norm, ReLU -> 2x up per
  level, norm, ReLU -> 3x3 conv -> tanh.
The discriminator "uses the encoder's architecture, with one output unit" (paper A.1): Encoder(out=1),
batch norm included (`d_norm`). Encoders L2-normalise their output when `unit=True` (AugIntAE's latent
space; off for the discriminator).

"norm": "batch" (InfoGAN's and DCGAN's batch norm, momentum 0.9; every net by default) or "pixel"
(ProGAN's stateless per-example norm; an option for the discriminator only). Pixel norm in the encoder
and decoder does not work here: on mostly-white Omniglot pages it keeps what all inputs share, the
decoded images hardly depend on the input, and L1 drives the decoder to the blank page (measured: L1
0.157 and zero spread over the batch after 300 steps, against 0.066 with batch norm). Every net takes
`train` (batch statistics vs running averages).
"upsample" (both decoders): "transpose" (default: InfoGAN's and DCGAN's 4x4 stride-2 transposed conv,
computed in sub-pixel form by fsgen.nets.transposed_conv: the same function, without XLA:CPU's slow
ConvTranspose) or "subpixel" (a 3x3 conv to 4C channels + depth-to-space, a superset of the original
nets' transposed conv whose four output phases are free; the form of the session-9 table). Measured on
intae_omniglot_cpu:epochs=48 beside another job (issue 13, experiments/reproduce/augintae_stripes.py):
IntAE's decoded midpoints carry a period-4 grid pattern with "subpixel" (grid score 0.62 at step 1,000,
0.11 at 2,064; real images 0.02) and much less with "transpose" (0.09, 0.04), reconstructions are alike
(grid 0.02, final L1 0.073 vs 0.065), and with either form the midpoints are not characters (15 % dark
pixels vs 8 % real). The AE phase took 969 vs 1,177 CPU ms per step (subpixel vs transpose,
bench/phase_speed.py, machine shared).
Departures: tanh output on [-1, 1] images
instead of InfoGAN's Bernoulli logits (the sigmoid on [0, 1]). The leaky slope is InfoGAN's code value,
0.01 (its paper says 0.1).
"""

from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from fsgen.nets.layers import SubPixelUp, pixel_norm
from fsgen.nets.transposed_conv import SubPixelConvTranspose

LEAK = 0.01
UPSAMPLE = ("transpose", "subpixel")


def _up(kind: str, features: int) -> nn.Module:
  """2x upsampling [B, H, W, C] -> [B, 2H, 2W, features] of form `kind` (see the module docstring)."""
  if kind == "transpose":
    return SubPixelConvTranspose(features, 4, 2)
  if kind == "subpixel":
    return SubPixelUp(features)
  raise ValueError(f"autoencoder upsample must be one of {UPSAMPLE}, got {kind!r}")


def _unit(z: jax.Array) -> jax.Array:
  return z / (jnp.linalg.norm(z, axis=-1, keepdims=True) + 1e-8)


def _norm(kind: str, h: jax.Array, train: bool) -> jax.Array:
  if kind == "batch":
    return nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5)(h)
  if kind == "pixel":
    return pixel_norm(h)
  raise ValueError(f"autoencoder norm must be 'batch' or 'pixel', got {kind!r}")


class InfoGANEncoder(nn.Module):
  """[B, R, R, C] -> [B, out] (unit rows when `unit`); R divisible by 4."""

  out: int = 32
  width: int = 64
  hidden: int = 1024
  unit: bool = True
  norm: str = "batch"

  @nn.compact
  def __call__(self, x, train: bool = True):
    if x.shape[1] % 4:
      raise ValueError(f"the InfoGAN encoder needs a resolution divisible by 4, got {x.shape[1]}")
    h = nn.leaky_relu(nn.Conv(self.width, (4, 4), 2, padding=((1, 1), (1, 1)))(x), LEAK)
    h = nn.Conv(2 * self.width, (4, 4), 2, padding=((1, 1), (1, 1)))(h)
    h = nn.leaky_relu(_norm(self.norm, h, train), LEAK).reshape(x.shape[0], -1)
    h = nn.leaky_relu(_norm(self.norm, nn.Dense(self.hidden)(h), train), LEAK)
    z = nn.Dense(self.out)(h)
    return _unit(z) if self.unit else z


class InfoGANDecoder(nn.Module):
  """[B, D] -> [B, R, R, C] in [-1, 1]."""

  resolution: int = 28
  channels: int = 1
  width: int = 64
  hidden: int = 1024
  norm: str = "batch"
  upsample: str = "transpose"

  @nn.compact
  def __call__(self, z, train: bool = True):
    s = self.resolution // 4
    h = nn.relu(_norm(self.norm, nn.Dense(self.hidden)(z), train))
    h = nn.relu(_norm(self.norm, nn.Dense(s * s * 2 * self.width)(h), train))
    h = h.reshape(z.shape[0], s, s, 2 * self.width)
    h = nn.relu(_norm(self.norm, _up(self.upsample, self.width)(h), train))
    return jnp.tanh(_up(self.upsample, self.channels)(h))


class DCGANEncoder(nn.Module):
  """[B, R, R, C] -> [B, out]: stride-2 4x4 convs down to 4x4, then FC (R in 16..128)."""

  out: int = 512
  width: int = 64
  unit: bool = True
  norm: str = "batch"

  @nn.compact
  def __call__(self, x, train: bool = True):
    levels = int(math.log2(x.shape[1])) - 2
    if x.shape[1] not in (16, 32, 64, 128):
      raise ValueError(f"the DCGAN encoder supports resolution 16, 32, 64 or 128, got {x.shape[1]}")
    h = x
    for i in range(levels):
      h = nn.Conv(self.width * 2 ** min(i, 3), (4, 4), 2, padding=((1, 1), (1, 1)))(h)
      h = nn.leaky_relu(_norm(self.norm, h, train) if i else h, 0.2)
    z = nn.Dense(self.out)(h.reshape(x.shape[0], -1))
    return _unit(z) if self.unit else z


class DCGANDecoder(nn.Module):
  """[B, D] -> [B, R, R, C] in [-1, 1]: DCGAN's generator (Radford et al. 2016) with batch norm: FC to
  4x4 x (w 2^(L-1)), norm, ReLU -> per level 2x up (halving the width, w at the last), norm, ReLU -> 3x3
  conv C -> tanh; L = log2(R) - 2 levels (R in 16..128)."""

  resolution: int = 64
  channels: int = 3
  width: int = 64
  norm: str = "batch"
  upsample: str = "transpose"

  @nn.compact
  def __call__(self, z, train: bool = True):
    if self.resolution not in (16, 32, 64, 128):
      raise ValueError(f"the DCGAN decoder supports resolution 16, 32, 64 or 128, got {self.resolution}")
    levels = int(math.log2(self.resolution)) - 2
    c = self.width * 2 ** (levels - 1)
    h = nn.Dense(4 * 4 * c)(z).reshape(z.shape[0], 4, 4, c)
    h = nn.relu(_norm(self.norm, h, train))
    for i in range(levels):
      h = nn.relu(_norm(self.norm, _up(self.upsample, self.width * 2 ** max(levels - 2 - i, 0))(h), train))
    return jnp.tanh(nn.Conv(self.channels, (3, 3), padding="SAME")(h))


def build(
  arch: str,
  *,
  resolution: int,
  channels: int,
  latent_dim: int,
  width: int,
  d_norm: str = "batch",
  upsample: str = "transpose",
):
  """(encoder, decoder, discriminator) of `arch` ("infogan" or "dcgan"); D outputs [B, 1] and has the
  encoder's architecture with `d_norm` ("batch", as the paper says, or "pixel"); the decoder upsamples
  with `upsample` ("transpose" or "subpixel")."""
  if upsample not in UPSAMPLE:
    raise ValueError(f"model.upsample must be one of {UPSAMPLE}, got {upsample!r}")
  if arch == "infogan":
    if resolution % 4:
      raise ValueError(f"the InfoGAN autoencoder needs a resolution divisible by 4, got {resolution}")
    return (
      InfoGANEncoder(out=latent_dim, width=width),
      InfoGANDecoder(resolution, channels, width, upsample=upsample),
      InfoGANEncoder(out=1, width=width, unit=False, norm=d_norm),
    )
  if arch == "dcgan":
    return (
      DCGANEncoder(out=latent_dim, width=width),
      DCGANDecoder(resolution=resolution, channels=channels, width=width, upsample=upsample),
      DCGANEncoder(out=1, width=width, unit=False, norm=d_norm),
    )
  raise ValueError(f"unknown autoencoder architecture {arch!r} (known: infogan, dcgan)")
