"""FastGAN generator and discriminator (Liu et al., ICLR 2021; FastGAN-pytorch models.py @893b93d).

Generator: z [B, Z] -> 4x4 (spectral-normed dense = the 4x4 transposed conv of a 1x1 input, BN, GLU) ->
up blocks to R (nearest 2x, conv3x3, BN, GLU; "comp" blocks at 8, 32, 128, 512 add noise injection and a
second conv) with skip-layer excitation SLE(r -> 16r): x_16r *= sigmoid(conv1x1(swish(conv4x4(pool4(x_r))))).
Outputs (tanh) the image [B, R, R, C] and a small image [B, S, S, C] from the S = min(128, R/2) features.

Discriminator on (image, small image): the big path (3x3 stem, DownBlockComp blocks to 8x8 with SLE
(R -> R/8, R/2 -> R/16, R/4 -> R/32), 1x1 conv + 4x4 valid conv -> 5x5 logits) and the small path (4x4 s2
conv, DownBlocks to 8x8, 4x4 valid conv -> 5x5 logits), concatenated: logit [B, 50]. On reals it also
decodes (AdaptiveAvgPool 8, up blocks to S, conv3x3, tanh): the 8x8 big-path map -> the whole image, the
small-path 8x8 map -> the whole image, a random 8x8 quadrant of the 16x16 map -> that image quadrant.
For MixDL it returns `sim` (a spectral-normed linear projection of the flattened 8x8 map, 512-d at full
size, as fastgan_models.Discriminator) and `patches` (3x3 heads on the 32x32 and 16x16 maps).

Channels: nfc(r) = width * {4: 16, 8: 8, 16: 4, 32: 2, 64: 2, 128: 1, 256: 0.5, 512: 0.25, 1024: 0.125}[r]
(width = ngf = ndf = 64 in the paper). Every conv and dense is spectral-normalised (flax nn.SpectralNorm;
its power-iteration vectors live in the "spectral" collection, updated only in the network's own phase).

Departures: BatchNorm always uses the batch statistics and keeps no running averages (the official trainer
never switches to eval mode, so its running averages are never used); tanh on both outputs at every size
(FastGAN applies it only at 1024 px; its issues #9/#11 say it does not matter). As in FastGAN: nearest
upsampling (no transposed conv), LPIPS-VGG reconstruction loss (L1 as an option; the loss is
`fsgen.losses.perceptual.reconstruction_loss`).
"""

from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp

_MULT = {4: 16, 8: 8, 16: 4, 32: 2, 64: 2, 128: 1, 256: 0.5, 512: 0.25, 1024: 0.125}
SPECTRAL = "spectral"


def nfc(res: int, width: int) -> int:
  return max(1, int(_MULT[res] * width))


def _check(resolution: int) -> None:
  if resolution not in (32, 64, 128, 256, 512, 1024):
    raise ValueError(f"FastGAN nets need resolution 32, 64, 128, 256, 512 or 1024, got {resolution}")


def small_resolution(resolution: int) -> int:
  return min(128, resolution // 2)


class SNConv(nn.Module):
  """Spectral-normalised conv, weights N(0, 0.02)."""

  features: int
  kernel: int = 3
  strides: int = 1
  padding: str | int = "SAME"
  use_bias: bool = False

  @nn.compact
  def __call__(self, x, train: bool):
    pad = self.padding if isinstance(self.padding, str) else [(self.padding, self.padding)] * 2
    conv = nn.Conv(
      self.features,
      (self.kernel, self.kernel),
      strides=self.strides,
      padding=pad,
      use_bias=self.use_bias,
      kernel_init=nn.initializers.normal(0.02),
    )
    return nn.SpectralNorm(conv, collection_name=SPECTRAL)(x, update_stats=train)


class SNDense(nn.Module):
  features: int
  use_bias: bool = True

  @nn.compact
  def __call__(self, x, train: bool):
    dense = nn.Dense(self.features, use_bias=self.use_bias, kernel_init=nn.initializers.normal(0.02))
    return nn.SpectralNorm(dense, collection_name=SPECTRAL)(x, update_stats=train)


class BatchNorm(nn.Module):
  """BatchNorm with batch statistics only (see the module docstring); weight N(1, 0.02), bias 0."""

  @nn.compact
  def __call__(self, x):
    c = x.shape[-1]
    axes = tuple(range(x.ndim - 1))
    mean, var = jnp.mean(x, axes), jnp.var(x, axes)
    scale = self.param("scale", lambda k, s: 1.0 + 0.02 * jax.random.normal(k, s), (c,))
    return (x - mean) * jax.lax.rsqrt(var + 1e-5) * scale + self.param("bias", nn.initializers.zeros, (c,))


def glu(x):
  a, b = jnp.split(x, 2, axis=-1)
  return a * jax.nn.sigmoid(b)


def up_nearest(x):
  return jnp.repeat(jnp.repeat(x, 2, axis=1), 2, axis=2)


def avg_pool_to(x, size: int):
  """AdaptiveAvgPool2d(size) for sides divisible by size: [B, H, W, C] -> [B, size, size, C]."""
  b, h, w, c = x.shape
  return x.reshape(b, size, h // size, size, w // size, c).mean(axis=(2, 4))


class NoiseInjection(nn.Module):
  @nn.compact
  def __call__(self, x):
    noise = jax.random.normal(self.make_rng("noise"), x.shape[:3] + (1,), x.dtype)
    return x + self.param("weight", nn.initializers.zeros, ()) * noise


class UpBlock(nn.Module):
  features: int
  comp: bool = False

  @nn.compact
  def __call__(self, x, train: bool):
    x = SNConv(2 * self.features)(up_nearest(x), train)
    if self.comp:
      x = NoiseInjection()(x)
    x = glu(BatchNorm()(x))
    if self.comp:
      x = glu(BatchNorm()(NoiseInjection()(SNConv(2 * self.features)(x, train))))
    return x


class SLE(nn.Module):
  """Skip-layer excitation: target [B, H, W, C] * sigmoid(conv1x1(swish(conv4x4(pool4(source)))))."""

  @nn.compact
  def __call__(self, source, target, train: bool):
    c = target.shape[-1]
    g = SNConv(c, 4, padding="VALID")(avg_pool_to(source, 4), train)
    g = SNConv(c, 1)(nn.swish(g), train)
    return target * jax.nn.sigmoid(g)


class Generator(nn.Module):
  """z [B, Z] -> (image [B, R, R, C], small image [B, S, S, C]) (+ features); rngs={'noise': key}."""

  resolution: int = 256
  channels: int = 3
  z_dim: int = 256
  width: int = 64

  @property
  def num_feats(self) -> int:
    return int(math.log2(self.resolution)) - 1

  @nn.compact
  def __call__(self, z, train: bool = False, return_feats: bool = False):
    """Features: the block outputs at 4, 8, ..., R (after SLE), num_feats of them."""
    _check(self.resolution)
    c4 = nfc(4, self.width)
    x = SNDense(4 * 4 * 2 * c4, use_bias=False)(z, train).reshape(z.shape[0], 4, 4, 2 * c4)
    x = glu(BatchNorm()(x))
    feats = {4: x}
    r = 8
    while r <= self.resolution:
      x = UpBlock(nfc(r, self.width), comp=r in (8, 32, 128, 512), name=f"up{r}")(x, train)
      if r >= 64:
        x = SLE(name=f"sle{r // 16}_{r}")(feats[r // 16], x, train)
      feats[r] = x
      r *= 2
    big = jnp.tanh(SNConv(self.channels, 3, name="to_big")(x, train))
    small = jnp.tanh(SNConv(self.channels, 1, name="to_small")(feats[small_resolution(self.resolution)], train))
    if return_feats:
      return (big, small), [feats[k] for k in sorted(feats)]
    return big, small


class DownBlock(nn.Module):
  features: int

  @nn.compact
  def __call__(self, x, train: bool):
    return nn.leaky_relu(BatchNorm()(SNConv(self.features, 4, 2, 1)(x, train)), 0.2)


class DownBlockComp(nn.Module):
  features: int

  @nn.compact
  def __call__(self, x, train: bool):
    act = lambda y: nn.leaky_relu(BatchNorm()(y), 0.2)
    main = act(SNConv(self.features, 3)(act(SNConv(self.features, 4, 2, 1)(x, train)), train))
    direct = act(SNConv(self.features, 1)(avg_pool_to(x, x.shape[1] // 2), train))
    return (main + direct) / 2


class Decoder(nn.Module):
  """[B, h, w, C] -> AdaptiveAvgPool 8 -> up blocks to `out_res` -> conv3x3 -> tanh [B, out_res, out_res, ch]."""

  out_res: int
  channels: int
  width: int

  @nn.compact
  def __call__(self, x, train: bool):
    x = avg_pool_to(x, 8)
    r = 16
    while r <= self.out_res:
      x = UpBlock(nfc(r, self.width))(x, train)
      r *= 2
    return jnp.tanh(SNConv(self.channels, 3)(x, train))


def crop_quadrant(x, part):
  """x [B, H, W, C], part int in 0..3 (0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right) -> quadrant."""
  b, h, w, c = x.shape
  return jax.lax.dynamic_slice(x, (0, (part // 2) * (h // 2), (part % 2) * (w // 2), 0), (b, h // 2, w // 2, c))


class Discriminator(nn.Module):
  """(image [B, R, R, C], small [B, S, S, C]) -> {"logit": [B, 50], "sim": [B, P], "patches": [...]}
  (+ "recon": (whole from big path, whole from small path, quadrant) when `part` is given)."""

  resolution: int = 256
  channels: int = 3
  width: int = 64
  proj_dim: int = 512

  @nn.compact
  def __call__(self, images, train: bool = False, part=None):
    _check(self.resolution)
    big, small = images
    ch = lambda r: nfc(r, self.width)
    x = nn.leaky_relu(SNConv(ch(self.resolution), 3)(big, train), 0.2)
    feats = {self.resolution: x}
    r = self.resolution
    while r > 8:
      r //= 2
      x = DownBlockComp(ch(r), name=f"down{r}")(x, train)
      if 8 * r in feats:
        x = SLE(name=f"sle{8 * r}_{r}")(feats[8 * r], x, train)
      feats[r] = x
    y = nn.leaky_relu(BatchNorm()(SNConv(ch(4), 1)(feats[8], train)), 0.2)
    logit_big = SNConv(1, 4, padding="VALID")(y, train)
    s = nn.leaky_relu(SNConv(ch(min(4 * small.shape[1] // 2, 1024)), 4, 2, 1)(small, train), 0.2)
    while s.shape[1] > 8:
      s = DownBlock(ch(min(4 * s.shape[1] // 2, 1024)))(s, train)
    logit_small = SNConv(1, 4, padding="VALID")(s, train)
    logit = jnp.concatenate([logit_big.reshape(big.shape[0], -1), logit_small.reshape(big.shape[0], -1)], 1)
    sim = SNDense(self.proj_dim, name="sim_linear")(feats[8].reshape(big.shape[0], -1), train)
    patches = [
      SNConv(1, 3, use_bias=True, name=f"patch_head{r}")(feats[r], train)[..., 0] for r in (32, 16) if r in feats
    ]
    out = {"logit": logit, "sim": sim, "patches": patches}
    if part is not None:
      dec_res = small_resolution(self.resolution)
      out["recon"] = (
        Decoder(dec_res, self.channels, self.width, name="dec_big")(feats[8], train),
        Decoder(dec_res, self.channels, self.width, name="dec_small")(s, train),
        Decoder(dec_res, self.channels, self.width, name="dec_part")(crop_quadrant(feats[16], part), train),
      )
    return out
