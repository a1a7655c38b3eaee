"""ResNets of COLA: the dual-head ResNet-18 encoder of Step I and the ResNet-20 classifier of Sec. 6.

Both use BatchNorm: call with `train=True` and `mutable=["batch_stats"]` during training (batch statistics,
running averages updated) and `train=False` for inference (running averages). Under a batch sharded over
the `data` mesh axis the batch statistics are global (XLA reduces over devices), so one device computes
what four do.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp


def _bn(train: bool, name: str | None = None) -> nn.BatchNorm:
  return nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5, name=name)


class BasicBlock(nn.Module):
  """Two 3x3 convs with BN; shortcut "B" (1x1 conv + BN) or "A" (strided identity, zero-padded channels)."""

  features: int
  stride: int = 1
  shortcut: str = "B"

  @nn.compact
  def __call__(self, x, train: bool):
    h = nn.Conv(self.features, (3, 3), self.stride, padding=1, use_bias=False)(x)
    h = nn.relu(_bn(train)(h))
    h = nn.Conv(self.features, (3, 3), padding=1, use_bias=False)(h)
    h = _bn(train)(h)
    if self.stride != 1 or x.shape[-1] != self.features:
      if self.shortcut == "A":
        x = x[:, :: self.stride, :: self.stride, :]
        extra = self.features - x.shape[-1]
        x = jnp.pad(x, ((0, 0), (0, 0), (0, 0), (extra // 2, extra - extra // 2)))
      else:
        x = nn.Conv(self.features, (1, 1), self.stride, use_bias=False)(x)
        x = _bn(train)(x)
    return nn.relu(h + x)


class ResNet18Encoder(nn.Module):
  """COLA Step I encoder E = (E1, E2) on a ResNet-18 trunk (MMDC variant: 3x3 stem, 2x max-pool).

  x [B, H, W, C] in [-1, 1] -> (E1: L2-normalised embedding [B, embed_dim], E2: rotation logits [B, 4]).
  width 64 is the standard ResNet-18 (11M params); smaller widths serve CPU presets and tests.
  """

  embed_dim: int = 10
  width: int = 64
  blocks: tuple[int, ...] = (2, 2, 2, 2)

  @nn.compact
  def __call__(self, x, train: bool = True):
    h = nn.Conv(self.width, (3, 3), padding=1, use_bias=False)(x)
    h = nn.relu(_bn(train)(h))
    h = nn.max_pool(h, (2, 2), (2, 2))
    for stage, n in enumerate(self.blocks):
      for i in range(n):
        h = BasicBlock(self.width * 2**stage, 2 if (i == 0 and stage > 0) else 1)(h, train)
    feat = h.mean(axis=(1, 2))
    emb = nn.Dense(self.embed_dim, name="embed")(feat)
    emb = emb * jax.lax.rsqrt(jnp.sum(emb**2, -1, keepdims=True) + 1e-12)
    return emb, nn.Dense(4, name="rotation")(feat)


class ResNet20(nn.Module):
  """CIFAR ResNet-20 (He et al. 2016, 3 stages x 3 blocks, 16/32/64 channels, shortcut A: 0.27M params).

  x [B, H, W, C] in [-1, 1] -> logits [B, num_classes]. `width` scales the channels (16 = the paper's).
  """

  num_classes: int = 10
  width: int = 16
  blocks_per_stage: int = 3

  @nn.compact
  def __call__(self, x, train: bool = True):
    h = nn.Conv(self.width, (3, 3), padding=1, use_bias=False)(x)
    h = nn.relu(_bn(train)(h))
    for stage in range(3):
      for i in range(self.blocks_per_stage):
        h = BasicBlock(self.width * 2**stage, 2 if (i == 0 and stage > 0) else 1, shortcut="A")(h, train)
    return nn.Dense(self.num_classes)(h.mean(axis=(1, 2)))
