"""LASIUM's Omniglot GAN at 28x28 (paper appendix 7.1 = official maml_gan_omniglot.py).

Generator: z [B, Z] -> Dense(7*7*w), LeakyReLU 0.2, reshape [7, 7, w] -> 2 x (4x4 stride-2 transposed
conv, w channels, LeakyReLU 0.2) -> 7x7 conv to C channels, sigmoid. No normalisation layers. The
transposed convolutions run in sub-pixel form (fsgen.nets.transposed_conv: the same function and
parameters, faster to train on XLA:CPU: bench/meta_speed.py --rows gan). The paper
has w = 128 and the code's latent Z = 128 (the paper calls it l). The sigmoid output in [0, 1] is
returned as 2 * sigmoid - 1 in [-1, 1] (fsgen's image range; the same images).
Discriminator: [B, 28, 28, C] -> 3 x (3x3 stride-2 conv with w, 2w, 2w channels (64, 128, 128), LeakyReLU
0.2) -> global max-pool -> Dense(1) -> logits [B].
"""

from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp

from fsgen.nets.transposed_conv import SubPixelConvTranspose


def _upsample(form: str, width: int, name: str):
  if form == "subpixel":
    return SubPixelConvTranspose(width, 4, 2, name=name)
  if form == "transpose":
    return nn.ConvTranspose(width, (4, 4), strides=(2, 2), padding="SAME", name=name)
  raise ValueError(f"generator upsample must be 'subpixel' or 'transpose', got {form!r}")


class Generator(nn.Module):
  """upsample: "subpixel" (default: fsgen.nets.transposed_conv, the same function and parameters as
  "transpose" = flax's ConvTranspose, faster to train on XLA:CPU: tests/test_lasium_transposed_conv.py,
  bench/meta_speed.py --rows gan)."""

  channels: int = 1
  width: int = 128
  upsample: str = "subpixel"

  @nn.compact
  def __call__(self, z):
    """z [B, Z] -> images [B, 28, 28, channels] in [-1, 1]."""
    x = nn.leaky_relu(nn.Dense(7 * 7 * self.width)(z), 0.2).reshape(z.shape[0], 7, 7, self.width)
    for i in range(2):  # the names flax gave the first version's layers: its checkpoints still load
      x = nn.leaky_relu(_upsample(self.upsample, self.width, f"ConvTranspose_{i}")(x), 0.2)
    # lax's own weight gradient (not layers.conv_matmul_wgrad): the 7x7 kernel's im2col patches (49 C values
    # per pixel) made the GEMM form 14x slower for this layer (745 vs 54 ms forward + backward, batch 64, w 32).
    out = nn.Conv(self.channels, (7, 7), padding="SAME", name="Conv_0")(x)
    return 2.0 * nn.sigmoid(out) - 1.0


class Discriminator(nn.Module):
  width: int = 64

  @nn.compact
  def __call__(self, x):
    """x [B, 28, 28, C] -> logits [B]."""
    for c in (self.width, 2 * self.width, 2 * self.width):
      x = nn.leaky_relu(nn.Conv(c, (3, 3), strides=(2, 2), padding="SAME")(x), 0.2)
    return nn.Dense(1)(jnp.max(x, axis=(1, 2)))[:, 0]
