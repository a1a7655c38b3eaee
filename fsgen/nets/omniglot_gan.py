"""LASIUM's Omniglot GAN at 28x28 (paper appendix 7.1 = official maml_gan_omniglot.py).

Generator: z [B, Z] -> Dense(7*7*w), LeakyReLU 0.2, reshape [7, 7, w] -> 2 x (4x4 stride-2 transposed
conv, w channels, LeakyReLU 0.2) -> 7x7 conv to C channels, sigmoid. No normalisation layers. The
transposed convolutions run in sub-pixel form (fsgen.nets.transposed_conv: the same function and
parameters, much faster to train on XLA:CPU); the plain convolutions take their weight gradient as one
GEMM (fsgen.nets.layers.conv_matmul_wgrad: the same values). The paper
has w = 128 and the code's latent Z = 128 (the paper calls it l). The sigmoid output in [0, 1] is
returned as 2 * sigmoid - 1 in [-1, 1] (fsgen's image range; the same images).
Discriminator: [B, 28, 28, C] -> 3 x (3x3 stride-2 conv with w, 2w, 2w channels (64, 128, 128), LeakyReLU
0.2) -> global max-pool -> Dense(1) -> logits [B].
"""

from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp

from fsgen.nets.layers import conv_matmul_wgrad
from fsgen.nets.transposed_conv import SubPixelConvTranspose


def _upsample(form: str, width: int, name: str):
  if form == "subpixel":
    return SubPixelConvTranspose(width, 4, 2, name=name)
  if form == "transpose":
    return nn.ConvTranspose(width, (4, 4), strides=(2, 2), padding="SAME", name=name)
  raise ValueError(f"generator upsample must be 'subpixel' or 'transpose', got {form!r}")


class Generator(nn.Module):
  """upsample: "subpixel" (default: fsgen.nets.transposed_conv, the same function and parameters as
  "transpose" = flax's ConvTranspose, several times faster to train on XLA:CPU)."""

  channels: int = 1
  width: int = 128
  upsample: str = "subpixel"

  @nn.compact
  def __call__(self, z):
    """z [B, Z] -> images [B, 28, 28, channels] in [-1, 1]."""
    x = nn.leaky_relu(nn.Dense(7 * 7 * self.width)(z), 0.2).reshape(z.shape[0], 7, 7, self.width)
    for i in range(2):
      x = nn.leaky_relu(_upsample(self.upsample, self.width, f"up{i}")(x), 0.2)
    out = nn.Conv(self.channels, (7, 7), padding="SAME", conv_general_dilated=conv_matmul_wgrad, name="out")(x)
    return 2.0 * nn.sigmoid(out) - 1.0


class Discriminator(nn.Module):
  width: int = 64

  @nn.compact
  def __call__(self, x):
    """x [B, 28, 28, C] -> logits [B]."""
    for c in (self.width, 2 * self.width, 2 * self.width):
      x = nn.Conv(c, (3, 3), strides=(2, 2), padding="SAME", conv_general_dilated=conv_matmul_wgrad)(x)
      x = nn.leaky_relu(x, 0.2)
    return nn.Dense(1)(jnp.max(x, axis=(1, 2)))[:, 0]
