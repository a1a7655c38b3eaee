"""The one classifier trainer and the one accuracy: a network trained on labelled pools, scored on a test set.

Used by COLA's small-sample classification protocol (fsgen.metrics.small_sample: ResNet-20 on real,
generated or Mix), the Classification Accuracy Score evaluator (fsgen.metrics.cas) and AugIntAE's
train-vs-novel domain classifier (experiments/reproduce/augintae.py).

  clf = train(key, net, [(images, labels), ...], steps=..., batch_size=..., tx=optax..., augment=None)
  clf.logits(images)  -> np.float32 [N, classes]      accuracy(clf, images, labels) -> float

The network is any flax module called as `net(x, train=bool)` on x float [B, H, W, C] in [-1, 1]; one with
batch norm keeps its running averages in `variables["batch_stats"]` (batch statistics while training,
running averages at inference, fsgen.nets.apply.apply_net). Several pools mix in every batch: the batch is
split evenly over them (the first takes the remainder), each share drawn at random from its pool (without
replacement when the share fits the pool), so "Mix" = half real, half generated in every batch. The
step is jitted once per (net, tx, augment, pool shapes): reuse the same objects to reuse the program.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from fsgen.data.batches import draw_indices
from fsgen.data.crop_flip import random_crop, random_flip
from fsgen.data.preprocess import to_float
from fsgen.nets.apply import apply_net

Augment = Callable[[jax.Array, jax.Array], jax.Array]  # (key, x [B, H, W, C]) -> x


@dataclasses.dataclass(frozen=True)
class CropFlip:
  """The standard light augmentation: random crop after padding by `pad` (fsgen.data.crop_flip), then a
  random horizontal flip. fill: a constant in [-1, 1] image space (-1: black, torchvision's RandomCrop
  padding), "edge" or "reflect"."""

  pad: int = 4
  fill: str | float = -1.0
  flip: bool = True

  def __call__(self, key: jax.Array, x: jax.Array) -> jax.Array:
    kc, kf = jax.random.split(key)
    x = random_crop(kc, x, self.pad, self.fill)
    return random_flip(kf, x) if self.flip else x


@dataclasses.dataclass(frozen=True)
class Classifier:
  """A trained network and its variables ({"params"} and, with batch norm, {"batch_stats"})."""

  net: nn.Module
  variables: dict

  def logits(self, images, batch: int = 500) -> np.ndarray:
    """float32 [N, classes] of images (uint8 [N, H, W, C] or float in [-1, 1]) in inference mode.

    Batches of `batch`; the last one is padded so one compiled program serves every batch.
    """
    n = len(images)
    if n == 0:
      raise ValueError("classifier.logits: no images")
    size = min(batch, n)
    out = []
    for start in range(0, n, size):
      x = np.asarray(images[start : start + size])
      m = x.shape[0]
      if m < size:
        x = np.concatenate([x, np.zeros((size - m,) + x.shape[1:], x.dtype)])
      out.append(np.asarray(_logits(self.net, self.variables, jnp.asarray(x)))[:m])
    return np.concatenate(out)


def _as_float(x: jax.Array) -> jax.Array:
  return to_float(x) if x.dtype == jnp.uint8 else x.astype(jnp.float32)


@functools.partial(jax.jit, static_argnums=0)
def _logits(net, variables, x):
  return net.apply(variables, _as_float(x), train=False)


@functools.partial(jax.jit, static_argnums=0)
def _init(net, key, x):
  return net.init(key, x, train=False)  # jitted once per net and input shape (eager init compiles op by op)


def shares(batch_size: int, num_pools: int) -> tuple[int, ...]:
  """Images per pool in one batch: an even split, the first pool taking the remainder."""
  if num_pools < 1 or batch_size < num_pools:
    raise ValueError(f"a batch of {batch_size} cannot be split over {num_pools} pools")
  out = [batch_size // num_pools] * num_pools
  out[0] += batch_size - sum(out)
  return tuple(out)


@functools.partial(jax.jit, static_argnums=(0, 1, 2, 3), donate_argnums=4)
def _step(net, tx, augment, split, state, pools, key):
  xs, ys = [], []
  for i, ((x, y), b) in enumerate(zip(pools, split)):
    idx = draw_indices(jax.random.fold_in(key, i), x.shape[0], b)
    xs.append(_as_float(x[idx]))
    ys.append(y[idx])
  x, y = jnp.concatenate(xs), jnp.concatenate(ys)
  if augment is not None:
    x = augment(jax.random.fold_in(key, len(split)), x)

  def loss_fn(p):
    logits, stats = apply_net(net, p, state["batch_stats"], x, train=True)
    return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean(), stats

  (loss, stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(state["params"])
  updates, opt = tx.update(grads, state["opt"], state["params"])
  return {"params": optax.apply_updates(state["params"], updates), "batch_stats": stats, "opt": opt}, loss


def train(
  key: jax.Array,
  net: nn.Module,
  pools: Sequence[tuple],
  *,
  steps: int,
  batch_size: int,
  tx: optax.GradientTransformation,
  augment: Augment | None = None,
) -> Classifier:
  """Trains `net` with softmax cross-entropy for `steps` steps of `batch_size` images from `pools`.

  Args:
    key: PRNG key (initialisation and every batch).
    net: flax module, net(x, train=bool) -> logits [B, classes].
    pools: [(images uint8 [N, H, W, C] or float in [-1, 1], labels int [N]), ...], mixed in every batch.
    steps: number of optimizer steps; batch_size: images per step over all pools.
    tx: the optimizer (its schedule counts these steps).
    augment: optional (key, x) -> x applied to every batch (float images), e.g. CropFlip(4, "edge").
  Raises:
    ValueError for an empty pool or mismatched labels; FloatingPointError if the last loss is not finite.
  """
  if not pools:
    raise ValueError("classifier.train needs at least one (images, labels) pool")
  device_pools = []
  for i, (x, y) in enumerate(pools):
    if len(x) == 0 or len(x) != len(y):
      raise ValueError(f"classifier pool {i}: {len(x)} images with {len(y)} labels")
    x = np.asarray(x)
    device_pools.append((jnp.asarray(x if x.dtype == np.uint8 else x.astype(np.float32)), jnp.asarray(y, jnp.int32)))
  split = shares(batch_size, len(device_pools))
  ki, kt = jax.random.split(key)
  variables = _init(net, ki, _as_float(device_pools[0][0][:1]))
  state = {
    "params": variables["params"],
    "batch_stats": variables.get("batch_stats", {}),
    "opt": tx.init(variables["params"]),
  }
  loss = jnp.zeros(())
  for s in range(steps):
    state, loss = _step(net, tx, augment, split, state, device_pools, jax.random.fold_in(kt, s))
  if steps and not np.isfinite(float(loss)):
    raise FloatingPointError(f"classifier loss is not finite at the last of {steps} steps")
  out = {"params": state["params"]}
  if state["batch_stats"]:
    out["batch_stats"] = state["batch_stats"]
  return Classifier(net, out)


def accuracy(clf: Classifier, images, labels, batch: int = 500) -> float:
  """Top-1 accuracy in [0, 1] of `clf` on images (uint8 [N, H, W, C] or float in [-1, 1]), labels int [N]."""
  if len(images) != len(labels):
    raise ValueError(f"accuracy: {len(images)} images with {len(labels)} labels")
  pred = np.argmax(clf.logits(images, batch), -1)
  return float(np.mean(pred == np.asarray(labels)))
