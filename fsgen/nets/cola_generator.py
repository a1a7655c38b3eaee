"""COLA Step II generators (paper Tables 4-5): z = (t, v) in R^(K+d) -> image [B, R, R, C] in [-1, 1].

InfoGAN (small-sample setting, no BN as in COLA Table 4):
  FC(K+d -> 1024) -> ReLU -> FC(1024 -> (R/4)^2 * 2w) -> ReLU -> up 2w->w -> ReLU -> up w->C -> tanh.
  With w = 64, R = 32, K + d = 74 and transposed 4x4 convs this is the paper's 8.6M-parameter net.
  `upsample="subpixel"` (default) replaces each stride-2 transposed conv by a 3x3 conv + depth-to-space:
  same shapes, about 15x faster gradients on XLA:CPU (DESIGN.md).
CGAN-style (full-data sCOLA option; Mimicry's projection-CGAN generator): FC -> s x s x 4w, residual
  up-blocks (bilinear 2x, 3x3 convs) with conditional BN whose gain and bias are linear in the class
  part t = z[:, :cond_dim] (for one-hot t this is the per-class embedding of a CGAN), BN, ReLU, conv, tanh.
  Thread `batch_stats` (mutable=["batch_stats"] with train=True; running averages with train=False).
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from fsgen.nets.layers import SubPixelUp


def _check_resolution(resolution: int) -> None:
  if resolution % 4:
    raise ValueError(f"COLA generators need a resolution divisible by 4, got {resolution}")


class InfoGANGenerator(nn.Module):
  resolution: int = 32
  channels: int = 3
  width: int = 64
  hidden: int = 1024
  upsample: str = "subpixel"

  def _up(self, features):
    if self.upsample == "subpixel":
      return SubPixelUp(features)
    if self.upsample == "transpose":
      return nn.ConvTranspose(features, (4, 4), (2, 2), padding="SAME")
    raise ValueError(f"generator upsample must be 'subpixel' or 'transpose', got {self.upsample!r}")

  @nn.compact
  def __call__(self, z, train: bool = True):
    """z [B, K+d] -> [B, R, R, C]; `train` is unused (no BN) and kept for a common signature."""
    del train
    _check_resolution(self.resolution)
    s = self.resolution // 4
    h = nn.relu(nn.Dense(self.hidden)(z))
    h = nn.relu(nn.Dense(s * s * 2 * self.width)(h)).reshape(z.shape[0], s, s, 2 * self.width)
    h = nn.relu(self._up(self.width)(h))
    return jnp.tanh(self._up(self.channels)(h))


class ConditionalBatchNorm(nn.Module):
  """BN without affine terms, then (1 + gain(t)) * h + bias(t) with gain, bias linear in t [B, T]."""

  @nn.compact
  def __call__(self, h, t, train: bool):
    h = nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5, use_scale=False, use_bias=False)(h)
    c = h.shape[-1]
    gain = nn.Dense(c, kernel_init=nn.initializers.zeros, name="gain")(t)
    bias = nn.Dense(c, kernel_init=nn.initializers.zeros, name="bias")(t)
    return h * (1.0 + gain[:, None, None, :]) + bias[:, None, None, :]


def _up2(x):
  b, h, w, c = x.shape
  return jax.image.resize(x, (b, 2 * h, 2 * w, c), "bilinear")


class CondResBlock(nn.Module):
  features: int

  @nn.compact
  def __call__(self, x, t, train: bool):
    h = nn.relu(ConditionalBatchNorm()(x, t, train))
    h = nn.Conv(self.features, (3, 3), padding=1)(_up2(h))
    h = nn.relu(ConditionalBatchNorm()(h, t, train))
    h = nn.Conv(self.features, (3, 3), padding=1)(h)
    return h + nn.Conv(self.features, (1, 1))(_up2(x))


class CGANGenerator(nn.Module):
  """Residual generator with conditional BN on the class part z[:, :cond_dim] (3 up-blocks if R % 8 == 0,
  else 2; R = 32 starts at 4x4 as in Mimicry, R = 28 at 7x7)."""

  cond_dim: int
  resolution: int = 32
  channels: int = 3
  width: int = 64

  @nn.compact
  def __call__(self, z, train: bool = True):
    _check_resolution(self.resolution)
    ups = 3 if self.resolution % 8 == 0 else 2
    s, c = self.resolution // 2**ups, 4 * self.width
    t = z[:, : self.cond_dim]
    h = nn.Dense(s * s * c)(z).reshape(z.shape[0], s, s, c)
    for _ in range(ups):
      h = CondResBlock(c)(h, t, train)
    h = nn.relu(nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5)(h))
    return jnp.tanh(nn.Conv(self.channels, (3, 3), padding=1)(h))


def build(arch: str, *, cond_dim: int, resolution: int, channels: int, width: int, upsample: str = "subpixel"):
  """The generator named `arch` ("infogan" or "cgan")."""
  if arch == "infogan":
    return InfoGANGenerator(resolution=resolution, channels=channels, width=width, upsample=upsample)
  if arch == "cgan":
    return CGANGenerator(cond_dim=cond_dim, resolution=resolution, channels=channels, width=width)
  raise ValueError(f"unknown COLA generator {arch!r} (known: infogan, cgan)")
