"""StyleGAN2 generator and residual discriminator (Karras et al. 2020, config-f as in rosinality's port).

Generator: z [B, Z] -> mapping (pixel norm, n_mlp equalised dense layers, lr_mul 0.01, fused leaky ReLU)
-> w [B, W] -> synthesis: learned constant 4x4, per resolution two styled convolutions (modulated,
demodulated, per-pixel noise, fused leaky ReLU), skip ToRGB outputs summed across resolutions -> tanh-free
image [B, R, R, C] (as in StyleGAN2; the training images are in [-1, 1]).
`synthesize(ws, return_feats=True)` also returns every styled-conv output in order (index 0 = the 4x4
conv, then two per resolution: 2 log2(R) - 3 maps), the features MixDL's generator distance uses.

Discriminator: FromRGB 1x1 -> residual blocks (conv3x3, down + conv3x3, skip down + 1x1, sum / sqrt 2)
down to 4x4 -> minibatch stddev (group 4) -> conv3x3 -> dense + lrelu (d1) -> dense -> logit [B].
For MixDL it also returns `sim` = a linear projection of d1 [B, P] and `patches`: a list of patch logit
maps [B, h, w] from 3x3 heads on the 32x32 and 16x16 maps (at 256 px: conv2 of the 64->32 block, conv1
and conv2 of 32->16, conv1 of 16->8; fewer exist below 64 px).

Channels per resolution: min(channel_max, channel_base // res); channel_base 32768 and channel_max 512
give config-f (512 up to 64 px, 256 at 128, 128 at 256).

Departures (CPU speed, same shapes and receptive fields): modulated convs run in the "non-fused" form
(scale the input by the style, shared-weight conv, scale the output by the demodulation coefficient), which
StyleGAN2-ADA also uses in training and is mathematically the same; upsampling is bilinear 2x (the
[1,3,3,1] FIR filter) followed by the 3x3 modulated conv instead of a transposed conv then blur; the
discriminator downsamples by a 2x2 average pool before its conv instead of blur + stride-2 conv.
"""

from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from fsgen.nets.layers import minibatch_stddev

SQRT2 = math.sqrt(2.0)


def channels_at(res: int, channel_base: int, channel_max: int) -> int:
  return max(1, min(channel_max, channel_base // res))


def _levels(resolution: int) -> int:
  log = int(round(math.log2(resolution)))
  if 2**log != resolution or resolution < 16:
    raise ValueError(f"StyleGAN2 nets need a power-of-two resolution >= 16, got {resolution}")
  return log - 2


def fused_lrelu(x, bias):
  """StyleGAN2's FusedLeakyReLU: leaky_relu(x + bias, 0.2) * sqrt(2)."""
  return nn.leaky_relu(x + bias, 0.2) * SQRT2


def upsample2x(x):
  """[B, H, W, C] -> [B, 2H, 2W, C], bilinear (the separable [1, 3, 3, 1] / 4 filter)."""
  b, h, w, c = x.shape
  return jax.image.resize(x, (b, 2 * h, 2 * w, c), "bilinear")


def downsample2x(x):
  """[B, H, W, C] -> [B, H/2, W/2, C] by 2x2 average pooling."""
  b, h, w, c = x.shape
  return x.reshape(b, h // 2, 2, w // 2, 2, c).mean(axis=(2, 4))


def _conv(x, w):
  return jax.lax.conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))


class EqualDense(nn.Module):
  """Equalised-learning-rate dense layer: weights N(0, 1) / lr_mul, scaled by lr_mul / sqrt(fan_in)."""

  features: int
  lr_mul: float = 1.0
  bias_init: float = 0.0
  use_bias: bool = True

  @nn.compact
  def __call__(self, x):
    fan_in = x.shape[-1]
    w = self.param("kernel", lambda k, s: jax.random.normal(k, s) / self.lr_mul, (fan_in, self.features))
    y = x @ (w * (self.lr_mul / math.sqrt(fan_in)))
    if self.use_bias:
      y = y + self.param("bias", nn.initializers.constant(self.bias_init), (self.features,)) * self.lr_mul
    return y


class EqualConv(nn.Module):
  """Equalised-learning-rate conv [B, H, W, Cin] -> [B, H, W, features], SAME padding."""

  features: int
  kernel: int = 3
  use_bias: bool = True

  @nn.compact
  def __call__(self, x):
    cin = x.shape[-1]
    w = self.param("kernel", nn.initializers.normal(1.0), (self.kernel, self.kernel, cin, self.features))
    y = _conv(x, w / math.sqrt(cin * self.kernel**2))
    if self.use_bias:
      y = y + self.param("bias", nn.initializers.zeros, (self.features,))
    return y


class ConvAct(nn.Module):
  """EqualConv (optionally after 2x average-pool downsampling) + FusedLeakyReLU."""

  features: int
  kernel: int = 3
  down: bool = False

  @nn.compact
  def __call__(self, x):
    if self.down:
      x = downsample2x(x)
    y = EqualConv(self.features, self.kernel, use_bias=False)(x)
    return fused_lrelu(y, self.param("bias", nn.initializers.zeros, (self.features,)))


class ModConv(nn.Module):
  """Modulated (and demodulated) conv: x [B, H, W, Cin], w [B, W] -> [B, H', W', features].

  y = conv(x * s, weight) * d with s = A(w) (affine, bias 1) and d = 1 / sqrt(sum_{k,i} (weight s_i)^2 + 1e-8)
  (StyleGAN2 Eqs. 1-3, non-fused form). `up` doubles H and W first.
  """

  features: int
  kernel: int = 3
  demodulate: bool = True
  up: bool = False

  @nn.compact
  def __call__(self, x, w):
    cin = x.shape[-1]
    s = EqualDense(cin, bias_init=1.0, name="style")(w)
    weight = self.param("kernel", nn.initializers.normal(1.0), (self.kernel, self.kernel, cin, self.features))
    weight = weight / math.sqrt(cin * self.kernel**2)
    if self.up:
      x = upsample2x(x)
    y = _conv(x * s[:, None, None, :], weight)
    if self.demodulate:
      d = jax.lax.rsqrt(jnp.square(s) @ jnp.sum(jnp.square(weight), axis=(0, 1)) + 1e-8)
      y = y * d[:, None, None, :]
    return y


class StyledConv(nn.Module):
  """ModConv + per-pixel noise (learned strength, init 0; rng stream 'noise') + FusedLeakyReLU."""

  features: int
  up: bool = False

  @nn.compact
  def __call__(self, x, w):
    y = ModConv(self.features, 3, up=self.up)(x, w)
    noise = jax.random.normal(self.make_rng("noise"), y.shape[:3] + (1,), y.dtype)
    y = y + self.param("noise_strength", nn.initializers.zeros, ()) * noise
    return fused_lrelu(y, self.param("bias", nn.initializers.zeros, (self.features,)))


class ToRGB(nn.Module):
  channels: int

  @nn.compact
  def __call__(self, x, w, skip=None):
    y = ModConv(self.channels, 1, demodulate=False)(x, w)
    y = y + self.param("bias", nn.initializers.zeros, (self.channels,))
    return y if skip is None else y + upsample2x(skip)


class Generator(nn.Module):
  """StyleGAN2 generator; see the module docstring. Needs rngs={'noise': key} when applied."""

  resolution: int = 256
  channels: int = 3
  z_dim: int = 512
  w_dim: int = 512
  n_mlp: int = 8
  lr_mlp: float = 0.01
  channel_base: int = 32768
  channel_max: int = 512

  @property
  def num_ws(self) -> int:
    """Number of per-layer codes (rosinality's n_latent): 2 log2(R) - 2."""
    return 2 * _levels(self.resolution) + 2

  @property
  def num_feats(self) -> int:
    """Number of styled-conv feature maps returned by synthesize(return_feats=True)."""
    return 2 * _levels(self.resolution) + 1

  def setup(self):
    levels = _levels(self.resolution)
    ch = lambda r: channels_at(r, self.channel_base, self.channel_max)
    self.mapping = [
      EqualDense(self.w_dim, lr_mul=self.lr_mlp, use_bias=False, name=f"map{i}") for i in range(self.n_mlp)
    ]
    self.mapping_bias = [
      self.param(f"map{i}_act_bias", nn.initializers.zeros, (self.w_dim,)) for i in range(self.n_mlp)
    ]
    self.const = self.param("const", nn.initializers.normal(1.0), (4, 4, ch(4)))
    self.conv4 = StyledConv(ch(4))
    self.rgb4 = ToRGB(self.channels)
    res = [2 ** (i + 3) for i in range(levels)]
    self.convs_up = [StyledConv(ch(r), up=True, name=f"conv{r}_up") for r in res]
    self.convs = [StyledConv(ch(r), name=f"conv{r}") for r in res]
    self.rgbs = [ToRGB(self.channels, name=f"rgb{r}") for r in res]

  def map(self, z):
    """z [B, Z] -> w [B, W] (the mapping network; pixel norm first)."""
    x = z * jax.lax.rsqrt(jnp.mean(jnp.square(z), axis=-1, keepdims=True) + 1e-8)
    for dense, bias in zip(self.mapping, self.mapping_bias):
      # EqualLinear(activation='fused_lrelu') applies lr_mul to its bias too.
      x = fused_lrelu(dense(x), bias * self.lr_mlp)
    return x

  def synthesize(self, ws, return_feats: bool = False):
    """ws [B, W] (broadcast to every layer) or [B, num_ws, W] -> images [B, R, R, C] (+ list of features).

    Features: every styled-conv output [B, r, r, ch(r)] in order (4x4 conv first), num_feats of them.
    """
    if ws.ndim == 2:
      ws = jnp.broadcast_to(ws[:, None], (ws.shape[0], self.num_ws, ws.shape[1]))
    x = jnp.broadcast_to(self.const, (ws.shape[0],) + self.const.shape)
    x = self.conv4(x, ws[:, 0])
    feats = [x]
    rgb = self.rgb4(x, ws[:, 1])
    for i, (up, conv, to_rgb) in enumerate(zip(self.convs_up, self.convs, self.rgbs)):
      x = up(x, ws[:, 1 + 2 * i])
      feats.append(x)
      x = conv(x, ws[:, 2 + 2 * i])
      feats.append(x)
      rgb = to_rgb(x, ws[:, 3 + 2 * i], rgb)
    return (rgb, feats) if return_feats else rgb

  def __call__(self, z, return_feats: bool = False):
    """z [B, Z] -> images [B, R, R, C] (+ features), no style mixing."""
    return self.synthesize(self.map(z), return_feats)


class ResBlock(nn.Module):
  """(conv3x3 -> down + conv3x3) + (down + 1x1, no bias), divided by sqrt 2. Returns (out, conv1, conv2)."""

  features: int

  @nn.compact
  def __call__(self, x):
    h1 = ConvAct(x.shape[-1], 3)(x)
    h2 = ConvAct(self.features, 3, down=True)(h1)
    skip = EqualConv(self.features, 1, use_bias=False)(downsample2x(x))
    return (h2 + skip) / SQRT2, h1, h2


class Discriminator(nn.Module):
  """StyleGAN2 residual discriminator with MixDL's projection and patch heads (module docstring).

  __call__(x [B, R, R, C]) -> {"logit": [B], "sim": [B, P], "patches": [[B, h, w], ...]}.
  """

  resolution: int = 256
  channel_base: int = 32768
  channel_max: int = 512
  mbstd_group: int = 4
  proj_dim: int = 0  # 0 = ch(4), as MixDL's sim_linear (512 -> 512)
  patch_lrelu: bool = True  # CDC/MixDL quirk: fused leaky ReLU on the patch logits

  @nn.compact
  def __call__(self, x):
    levels = _levels(self.resolution)
    ch = lambda r: channels_at(r, self.channel_base, self.channel_max)
    x = ConvAct(ch(self.resolution), 1)(x)
    convs1, convs2 = [], []
    res = self.resolution
    for _ in range(levels):
      x, h1, h2 = ResBlock(ch(res // 2))(x)
      convs1.append(h1)
      convs2.append(h2)
      res //= 2
    n = levels
    candidates = [(n - 4, convs2), (n - 3, convs1), (n - 3, convs2), (n - 2, convs1)]
    patches = []
    for i, (block, maps) in enumerate(candidates):
      if block < 0:
        continue
      y = EqualConv(1, 3, use_bias=False, name=f"patch_head{i}")(maps[block])
      bias = self.param(f"patch_head{i}_bias", nn.initializers.zeros, (1,))
      y = fused_lrelu(y, bias) if self.patch_lrelu else y + bias
      patches.append(y[..., 0])
    x = minibatch_stddev(x, self.mbstd_group)
    x = ConvAct(ch(4), 3)(x)
    d1 = EqualDense(ch(4), use_bias=False)(x.reshape(x.shape[0], -1))
    d1 = fused_lrelu(d1, self.param("fc_bias", nn.initializers.zeros, (ch(4),)))
    logit = EqualDense(1)(d1)[:, 0]
    sim = EqualDense(self.proj_dim or ch(4), name="sim_linear")(d1)
    return {"logit": logit, "sim": sim, "patches": patches}
