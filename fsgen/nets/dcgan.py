"""DCGAN-style generator and discriminator at 32 or 64 px (the `gan` baseline and quick starts).

Generator: z [B, Z] -> dense to 4x4x(8w) -> (sub-pixel 2x up, pixel norm, ReLU) per level -> 3x3 conv ->
tanh, giving [B, R, R, C]. Radford et al. use transposed convolutions and batch norm; we keep the shape
of the architecture but use sub-pixel upsampling (15x faster gradients on XLA:CPU) and ProGAN's pixel
norm (stateless and per-example, so there are no batch statistics to keep for the EMA generator and one
device computes exactly what four do).
Discriminator: [B, R, R, C] -> (4x4 stride-2 conv, LeakyReLU 0.2) per level down to 4x4 -> [minibatch
stddev, group G, when mbstd_group = G > 0] -> dense -> [B]. The minibatch-stddev channel (Karras et al.
2018, ProGAN section 3; as in fsgen.nets.stylegan2) lets D see a batch's lack of variety. Off by default:
on the quickstart's 10-shot robustness sets it did not remove the collapse on Omniglot (README, "The
quickstart on your own images").
"""

from __future__ import annotations

import math

import flax.linen as nn
import jax.numpy as jnp

from fsgen.nets.layers import SubPixelUp, minibatch_stddev, pixel_norm


def _levels(resolution: int) -> int:
  levels = int(math.log2(resolution)) - 2
  if resolution not in (16, 32, 64, 128) or levels < 2:
    raise ValueError(f"DCGAN nets support resolution 16, 32, 64 or 128, got {resolution}")
  return levels


class Generator(nn.Module):
  """`weight_grad`: the form of the sub-pixel convs' weight gradient ("matmul" or "conv", see
  fsgen.nets.layers.SubPixelUp): the same function; "matmul" (one GEMM over im2col patches) made the
  whole `gan` step at 32 px (batch 64, width 64) about 15% faster than "conv" on the 2-core CPU, its 3x3
  64 -> 256 conv at 16x16 about 3x (bench/profile_step.py; tests/test_gan_speed_forms.py checks the
  numbers)."""

  resolution: int = 32
  channels: int = 3
  width: int = 64
  weight_grad: str = "matmul"

  @nn.compact
  def __call__(self, z):
    """z [B, Z] -> images [B, resolution, resolution, channels] in [-1, 1]."""
    levels = _levels(self.resolution)
    c = self.width * 2 ** (levels - 1)
    x = nn.Dense(4 * 4 * c)(z).reshape(z.shape[0], 4, 4, c)
    x = nn.relu(pixel_norm(x))
    for i in range(levels):
      c = self.width * 2 ** (levels - 2 - i) if i < levels - 1 else self.width
      x = nn.relu(pixel_norm(SubPixelUp(c, weight_grad=self.weight_grad)(x)))
    return jnp.tanh(nn.Conv(self.channels, (3, 3), padding="SAME")(x))


class Discriminator(nn.Module):
  resolution: int = 32
  width: int = 64
  mbstd_group: int = 0  # 0: no minibatch-stddev channel (the DCGAN of Radford et al.)

  @nn.compact
  def __call__(self, x):
    """x [B, R, R, C] -> logits [B]."""
    for i in range(_levels(self.resolution)):
      x = nn.leaky_relu(nn.Conv(self.width * 2**i, (4, 4), strides=2, padding=((1, 1), (1, 1)))(x), 0.2)
    if self.mbstd_group:
      x = minibatch_stddev(x, self.mbstd_group)
    return nn.Dense(1)(x.reshape(x.shape[0], -1))[:, 0]
