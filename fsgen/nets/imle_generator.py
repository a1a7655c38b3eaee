"""The Adaptive IMLE generator (official AdaIMLE models.py + mapping_network.py, `--hps fewshot`).

A StyleGAN-like mapping network feeding a VDVAE-decoder-style residual stack that starts from a learned
constant; there is no encoder. Each sample is (z, spatial noise): z [B, z_dim] and one single-channel noise
map per resolution [B, r, r, 1], shared by all blocks at that resolution (IMLE keeps both per training
example). NHWC throughout.

  mapping: PixelNorm, then `map_layers` x [Dense(z_dim) + LeakyReLU(0.2)] -> w [B, z_dim]
  input:   learned constant [1, 1, 1, width] ~ N(0, 1), tiled over the batch
  block:   nearest upsample (an "rMm" block) -> x + w_c * noise_r (w_c ~ N(0, 1) per channel; only at
           r <= noise_max_res, the official `max_hierarchy`, default every resolution; w_c = 0 at init with
           zero_noise_weights, an option the official code lacks)
           -> AdaIN: instance norm without affine (skipped at 1x1), x * gamma(w) + beta(w)
              (Dense(z_dim -> 2 width), gamma's bias 1, beta's bias 0)
           -> x + c4(gelu(c3(gelu(c2(gelu(c1(gelu(x))))))))  (VDVAE bottleneck; c2/c3 3x3, 1x1 at r <= 2;
              c4 initialised scaled by sqrt(1 / number of blocks))
  head:    1x1 conv -> channels, per-channel gain (1) and bias (0); NO tanh (as the official code).

Dense and conv weights use PyTorch's default init (uniform, bound 1/sqrt(fan_in)) with zero biases, as the
official code. Upsampling is nearest (no transposed convolution).
"""

from __future__ import annotations

import math
import re

import flax.linen as nn
import jax
import jax.numpy as jnp

from fsgen.nets.layers import pixel_norm

# The official `dec_blocks` of `--hps fewshot` for 256x256 (28 blocks).
OFFICIAL_BLOCKS_256 = "1x4,4m1,4x4,8m4,8x4,16m8,16x3,32m16,32x2,64m32,64x2,128m64,128x2,256m128"

_torch_default = nn.initializers.variance_scaling(1.0 / 3.0, "fan_in", "uniform")  # U(+-1/sqrt(fan_in))


def parse_blocks(spec: str) -> list[tuple[int, int]]:
  """'1x4,4m1,4x2' -> [(res, upsample_from_or_0), ...]: 'rxK' is K blocks at r, 'rMm' one block r from m."""
  blocks = []
  for item in spec.split(","):
    m = re.fullmatch(r"(\d+)([xm])(\d+)", item.strip())
    if not m:
      raise ValueError(f"bad generator block {item!r} in {spec!r} (expected 'RxK' or 'RmM')")
    r, kind, k = int(m[1]), m[2], int(m[3])
    blocks += [(r, 0)] * k if kind == "x" else [(r, k)]
  return blocks


def blocks_for(resolution: int, per_res: int = 2) -> str:
  """A reduced `dec_blocks` string from 1x1 up to `resolution` with `per_res` blocks per level."""
  if resolution & (resolution - 1) or resolution < 4:
    raise ValueError(f"generator resolution must be a power of two >= 4, got {resolution}")
  parts, r = [f"1x{per_res}", "4m1", f"4x{per_res}"], 4
  while r < resolution:
    parts += [f"{2 * r}m{r}", f"{2 * r}x{per_res}"]
    r *= 2
  return ",".join(parts)


def noise_resolutions(spec: str, max_res: int = 0) -> list[int]:
  """Sorted block resolutions that carry a noise map: those <= max_res (official max_hierarchy; 0 = all)."""
  return sorted({r for r, _ in parse_blocks(spec) if not max_res or r <= max_res})


def noise_shapes(spec: str, max_res: int = 0) -> list[tuple[int, int, int]]:
  """Per-sample noise map shapes [(r, r, 1), ...] in increasing resolution."""
  return [(r, r, 1) for r in noise_resolutions(spec, max_res)]


class Mapping(nn.Module):
  """z [B, D] -> w [B, D]: PixelNorm then `layers` x (Dense + LeakyReLU 0.2)."""

  layers: int = 8

  @nn.compact
  def __call__(self, z):
    x = pixel_norm(z)
    for _ in range(self.layers):
      x = nn.leaky_relu(nn.Dense(z.shape[-1], kernel_init=_torch_default)(x), 0.2)
    return x


class DecBlock(nn.Module):
  """One official DecBlock at resolution `res`: [upsample] -> noise -> AdaIN -> bottleneck residual."""

  res: int
  up_from: int
  width: int
  bottleneck: int
  num_blocks: int
  gelu_approximate: bool = False
  zero_noise_weight: bool = False

  @nn.compact
  def __call__(self, x, w, noise):
    """x [B, r', r', width] -> [B, res, res, width]; noise [B, res, res, 1], or None (no injection)."""
    gelu = lambda v: nn.gelu(v, approximate=self.gelu_approximate)
    if self.up_from:
      f = self.res // self.up_from
      x = jnp.repeat(jnp.repeat(x, f, axis=1), f, axis=2)  # nearest upsampling
    if noise is not None:
      init = nn.initializers.zeros if self.zero_noise_weight else nn.initializers.normal(1.0)
      x = x + self.param("noise_weight", init, (self.width,)) * noise
    if self.res > 1:  # instance norm without affine; torch eps 1e-5, biased variance
      mean = jnp.mean(x, axis=(1, 2), keepdims=True)
      x = (x - mean) * jax.lax.rsqrt(jnp.var(x, axis=(1, 2), keepdims=True) + 1e-5)
    gamma = nn.Dense(self.width, kernel_init=_torch_default, bias_init=nn.initializers.ones, name="gamma")(w)
    beta = nn.Dense(self.width, kernel_init=_torch_default, name="beta")(w)
    x = x * gamma[:, None, None, :] + beta[:, None, None, :]
    k = (3, 3) if self.res > 2 else (1, 1)
    h = nn.Conv(self.bottleneck, (1, 1), kernel_init=_torch_default)(gelu(x))
    h = nn.Conv(self.bottleneck, k, padding="SAME", kernel_init=_torch_default)(gelu(h))
    h = nn.Conv(self.bottleneck, k, padding="SAME", kernel_init=_torch_default)(gelu(h))
    scale = math.sqrt(1.0 / self.num_blocks)
    c4_init = lambda *a: _torch_default(*a) * scale
    h = nn.Conv(self.width, (1, 1), kernel_init=c4_init)(gelu(h))
    return x + h


class Generator(nn.Module):
  """(z [B, z_dim], noise [maps [B, r, r, 1] in increasing r]) -> images [B, R, R, channels], unbounded.

  blocks: a `dec_blocks` string (OFFICIAL_BLOCKS_256 or `blocks_for(res)`); its last resolution is R.
  width: channels at every resolution (official 384); bottleneck: width * 0.25 (official 96).
  noise_max_res: highest resolution with spatial noise (official max_hierarchy; 0 = all); noise holds one
  map per resolution of noise_resolutions(blocks, noise_max_res).
  """

  blocks: str = OFFICIAL_BLOCKS_256
  width: int = 384
  map_layers: int = 8
  channels: int = 3
  bottleneck_ratio: float = 0.25
  gelu_approximate: bool = False  # tanh form: ~35% faster on XLA:CPU; the official code uses exact erf
  noise_max_res: int = 0
  zero_noise_weights: bool = False

  @nn.compact
  def __call__(self, z, noise):
    blocks = parse_blocks(self.blocks)
    res_index = {r: i for i, r in enumerate(noise_resolutions(self.blocks, self.noise_max_res))}
    if len(noise) != len(res_index):
      raise ValueError(f"generator needs {len(res_index)} noise maps (resolutions {list(res_index)}), got {len(noise)}")
    w = Mapping(self.map_layers)(z)
    const = self.param("const", nn.initializers.normal(1.0), (1, 1, 1, self.width))
    x = jnp.tile(const, (z.shape[0], 1, 1, 1))
    bottleneck = max(1, int(self.width * self.bottleneck_ratio))
    for r, up in blocks:
      block = DecBlock(r, up, self.width, bottleneck, len(blocks), self.gelu_approximate, self.zero_noise_weights)
      x = block(x, w, noise[res_index[r]] if r in res_index else None)
    x = nn.Conv(self.channels, (1, 1), kernel_init=_torch_default)(x)
    gain = self.param("gain", nn.initializers.ones, (self.channels,))
    bias = self.param("bias", nn.initializers.zeros, (self.channels,))
    return x * gain + bias


def draw_latents(
  key: jax.Array, n: int, z_dim: int, blocks: str, max_res: int = 0
) -> tuple[jax.Array, list[jax.Array]]:
  """Fresh N(0, 1) latents: z [n, z_dim] and noise maps [n, r, r, 1] per noise resolution (<= max_res)."""
  shapes = noise_shapes(blocks, max_res)
  kz, *kn = jax.random.split(key, 1 + len(shapes))
  return jax.random.normal(kz, (n, z_dim)), [jax.random.normal(k, (n, *s)) for k, s in zip(kn, shapes)]


def latents_from_ids(pool_key: jax.Array, ids: jax.Array, z_dim: int, blocks: str, max_res: int = 0):
  """The pool sample `ids` [K] of the pool `pool_key`: each from fold_in(pool_key, id), so a sample can be
  regenerated from its index alone (the pool's latents are never stored). -> (z [K, z_dim], noise maps
  [K, r, r, 1])."""

  def one(i):
    z, maps = draw_latents(jax.random.fold_in(pool_key, i), 1, z_dim, blocks, max_res)
    return z[0], [m[0] for m in maps]

  return jax.vmap(one)(ids)
