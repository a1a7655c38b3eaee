"""Classification Accuracy Score (Ravuri & Vinyals 2019), as COLA uses it: train a classifier on
generated labelled images only, then report its accuracy on real labelled images.

The classifier is a small CNN (3 conv blocks of width `width`, global average pool, linear), trained with
Adam on images in [-1, 1] at their native size; the real test set is the training dataset (with labels)
or `reference` (a data config with labels, e.g. a test split). The generator side is a labelled sampler:
sample_fn(key, n) returning (images [n, H, W, C], labels [n]).
"""

from __future__ import annotations

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from fsgen.data.preprocess import to_float


class SmallCNN(nn.Module):
  """[B, H, W, C] in [-1, 1] -> logits [B, num_classes]."""

  num_classes: int
  width: int = 32

  @nn.compact
  def __call__(self, x):
    for i in range(3):
      x = nn.relu(nn.Conv(self.width * 2**i, (3, 3), strides=(2, 2))(x))
    return nn.Dense(self.num_classes)(jnp.mean(x, axis=(1, 2)))


@functools.cache
def _step_fn(num_classes: int, width: int, batch: int, lr: float):
  """One jitted Adam step on a random batch (a Python loop over it compiles in seconds; a lax.scan over
  the same body took 40 s to compile on XLA:CPU)."""
  model, tx = SmallCNN(num_classes, width), optax.adam(lr)

  def loss_fn(p, xb, yb):
    return optax.softmax_cross_entropy_with_integer_labels(model.apply({"params": p}, xb), yb).mean()

  @jax.jit
  def step(params, opt, x, y, key):
    idx = jax.random.randint(key, (batch,), 0, x.shape[0])
    grads = jax.grad(loss_fn)(params, x[idx], y[idx])
    updates, opt = tx.update(grads, opt, params)
    return optax.apply_updates(params, updates), opt

  return model, tx, step


def train_classifier(
  images: np.ndarray,
  labels: np.ndarray,
  num_classes: int,
  key,
  steps: int = 500,
  batch: int = 64,
  lr: float = 1e-3,
  width: int = 32,
):
  """Fits SmallCNN on images [N, H, W, C] (float in [-1, 1]) and labels [N]; returns (model, params)."""
  model, tx, step = _step_fn(int(num_classes), int(width), int(batch), float(lr))
  x, y = jnp.asarray(images, jnp.float32), jnp.asarray(labels, jnp.int32)
  init_key, key = jax.random.split(key)
  params = jax.jit(model.init)(init_key, x[:1])["params"]  # eager init compiles op by op: 30 s
  opt = tx.init(params)
  for i in range(steps):
    params, opt = step(params, opt, x, y, jax.random.fold_in(key, i))
  return model, params


def accuracy(model, params, images: np.ndarray, labels: np.ndarray, batch: int = 256) -> float:
  fn = jax.jit(lambda x: jnp.argmax(model.apply({"params": params}, x), -1))
  pred = np.concatenate(
    [np.asarray(fn(jnp.asarray(images[s : s + batch], jnp.float32))) for s in range(0, len(images), batch)]
  )
  return float((pred == np.asarray(labels)).mean())


def cas(gen_images, gen_labels, real_images, real_labels, num_classes: int, key, **train_kw) -> float:
  """Accuracy on real images of a classifier trained on generated ones (all images in [-1, 1])."""
  model, params = train_classifier(gen_images, gen_labels, num_classes, key, **train_kw)
  return accuracy(model, params, real_images, real_labels)


class Evaluator:
  """CAS of `n` generated labelled images, tested on the labelled training set (or `reference`).

  needs labelled samples: fsgen.metrics.Samplers hands `run` the method's jitted sample_labelled."""

  needs = ("labelled",)

  def __init__(self, dataset, n: int = 5000, steps: int = 500, batch: int = 64, width: int = 32, reference=None):
    if reference is not None:
      from fsgen import data as fsdata  # pylint: disable=import-outside-toplevel

      dataset = fsdata.load(dict(reference))
    if dataset.labels is None:
      raise ValueError("cas needs labelled real images (set data.labels or give a labelled reference)")
    self.images, self.labels = np.asarray(to_float(dataset.images)), np.asarray(dataset.labels)
    self.num_classes = int(self.labels.max()) + 1
    self.n, self.train_kw = int(n), dict(steps=steps, batch=batch, width=width)

  def run(self, sample_fn, key) -> dict[str, float]:
    out = sample_fn(key, self.n)
    if not isinstance(out, tuple) or len(out) != 2:
      raise ValueError("cas needs a labelled sampler: sample_fn(key, n) -> (images, labels)")
    images, labels = np.asarray(out[0], np.float32), np.asarray(out[1])
    return {
      "cas": cas(
        images, labels, self.images, self.labels, self.num_classes, jax.random.fold_in(key, 1), **self.train_kw
      )
    }
