"""LASIUM's Omniglot VAE at 28x28 (paper appendix 7.1; official maml_vae_omniglot.py), latent 20.

Encoder: [B, 28, 28, C] -> 4 x (3x3 conv, w = 64 channels, no bias, batch norm, ReLU) with strides
(2, 2, 1, 1): 28 -> 14 -> 7 -> 7 -> 7 -> flatten -> two Dense heads: mean [B, Z], log-variance [B, Z].
Decoder: z [B, Z] -> Dense(7*7*w), ReLU, reshape -> 4 x (3x3 transposed conv, w channels, no bias, batch
norm, ReLU) with strides (2, 2, 1, 1): 7 -> 14 -> 28 -> 28 -> 28 -> 3x3 transposed conv to C channels,
sigmoid, returned as 2 * sigmoid - 1 in [-1, 1].

The paper's text says "a stride of 2 for all the convolutional and transposed convolutional layers";
four stride-2 layers cannot map 7x7 to 28x28 (they give 112x112), so that statement is impossible. The
official code uses strides (2, 2, 1, 1) in both halves; so does this port.

Batch norm keeps running averages (Keras defaults: momentum 0.99, epsilon 1e-3) in the `batch_stats`
collection: training uses batch statistics, task sampling uses the running averages (the official
sampler calls the encoder and decoder in inference mode).
"""

from __future__ import annotations

import flax.linen as nn

from fsgen.nets.transposed_conv import SubPixelConvTranspose

STRIDES = (2, 2, 1, 1)


def _bn(train: bool):
  return nn.BatchNorm(use_running_average=not train, momentum=0.99, epsilon=1e-3)


class Encoder(nn.Module):
  latent: int = 20
  width: int = 64

  @nn.compact
  def __call__(self, x, train: bool = True):
    """x [B, 28, 28, C] in [-1, 1] -> (mean [B, latent], log-variance [B, latent])."""
    x = (x + 1.0) * 0.5  # the official encoder sees images in [0, 1]
    for s in STRIDES:
      x = nn.relu(_bn(train)(nn.Conv(self.width, (3, 3), strides=s, padding="SAME", use_bias=False)(x)))
    x = x.reshape(x.shape[0], -1)
    return nn.Dense(self.latent, name="mean")(x), nn.Dense(self.latent, name="log_var")(x)


def _transposed(form: str, features: int, stride: int, use_bias: bool, name: str):
  if form == "subpixel":
    return SubPixelConvTranspose(features, 3, stride, use_bias=use_bias, name=name)
  if form == "transpose":
    return nn.ConvTranspose(features, (3, 3), strides=(stride, stride), padding="SAME", use_bias=use_bias, name=name)
  raise ValueError(f"decoder upsample must be 'subpixel' or 'transpose', got {form!r}")


class Decoder(nn.Module):
  """upsample: "subpixel" (default: fsgen.nets.transposed_conv, the same function and parameters as
  "transpose" = flax's ConvTranspose, faster to train on XLA:CPU; measured in bench/meta_speed.py)."""

  channels: int = 1
  width: int = 64
  upsample: str = "subpixel"

  @nn.compact
  def __call__(self, z, train: bool = True):
    """z [B, latent] -> (images [B, 28, 28, channels] in [-1, 1], logits [B, 28, 28, channels])."""
    x = nn.relu(nn.Dense(7 * 7 * self.width)(z)).reshape(z.shape[0], 7, 7, self.width)
    for i, s in enumerate(STRIDES):  # the names flax gave the first version's layers: its checkpoints load
      x = _transposed(self.upsample, self.width, s, False, f"ConvTranspose_{i}")(x)
      x = nn.relu(_bn(train)(x))
    logits = _transposed(self.upsample, self.channels, 1, True, f"ConvTranspose_{len(STRIDES)}")(x)
    return 2.0 * nn.sigmoid(logits) - 1.0, logits
