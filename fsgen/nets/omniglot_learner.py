"""The few-shot learner of LASIUM, UMTRA and MAML on Omniglot: 4 blocks of 3x3 conv, 64 channels.

Block: 3x3 conv (64 channels, with bias) -> batch norm WITHOUT scale (a learnt offset only, as the official
`SimpleModel`: BatchNormalization(center=True, scale=False)) -> ReLU; downsampling by
  - "stride": the conv has stride 2 ('same' padding): 28 -> 14 -> 7 -> 4 -> 2. The official code (which
    produced the paper's tables) does this;
  - "maxpool": stride 1, then 2x2 max-pool after the ReLU: 28 -> 14 -> 7 -> 3 -> 1, as the paper's text
    (Sec. 4: "... batch normalization, a ReLU non-linearity, and 2x2 max-pooling").
Heads: "dense" (MAML): spatial mean, then Dense(num_classes) -> logits [B, num_classes]; "flatten"
(ProtoNets): the last block's features flattened, "without any dense layers" -> [B, h*w*width] (256 for
the strided net at 28 px).

Batch norm always uses the statistics of the batch it is given (MAML's transductive setting: the official
code runs the inner loop, the outer loss and the test queries with training=True). So the net has no
running averages and no mutable state: it is a pure function of its parameters, which is what MAML's
inner SGD differentiates through.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

BN_EPS = 1e-3  # Keras' BatchNormalization default epsilon (the official code's)


class BatchStatNorm(nn.Module):
  """Batch norm with batch statistics only and a learnt offset (no scale): [B, H, W, C] -> same."""

  eps: float = BN_EPS

  @nn.compact
  def __call__(self, x):
    mean = jnp.mean(x, axis=(0, 1, 2), keepdims=True)
    var = jnp.mean(jnp.square(x - mean), axis=(0, 1, 2), keepdims=True)
    beta = self.param("bias", nn.initializers.zeros, (x.shape[-1],), x.dtype)
    return (x - mean) * jax.lax.rsqrt(var + self.eps) + beta


class OmniglotLearner(nn.Module):
  """[B, H, W, C] images (in [-1, 1]) -> logits [B, num_classes] ("dense") or features [B, F] ("flatten")."""

  num_classes: int = 5
  width: int = 64
  blocks: int = 4
  downsample: str = "stride"  # "stride" (official code) or "maxpool" (paper text)
  head: str = "dense"  # "dense" (MAML) or "flatten" (ProtoNets)

  @nn.compact
  def __call__(self, x):
    if self.downsample not in ("stride", "maxpool"):
      raise ValueError(f"learner downsample must be 'stride' or 'maxpool', got {self.downsample!r}")
    if self.head not in ("dense", "flatten"):
      raise ValueError(f"learner head must be 'dense' or 'flatten', got {self.head!r}")
    stride = 2 if self.downsample == "stride" else 1
    for i in range(self.blocks):
      x = nn.Conv(self.width, (3, 3), strides=stride, padding="SAME", name=f"conv{i + 1}")(x)
      x = nn.relu(BatchStatNorm(name=f"bn{i + 1}")(x))
      if self.downsample == "maxpool":
        x = nn.max_pool(x, (2, 2), strides=(2, 2))
    if self.head == "flatten":
      return x.reshape(x.shape[0], -1)
    return nn.Dense(self.num_classes, name="dense")(jnp.mean(x, axis=(1, 2)))
