"""Classification Accuracy Score (Ravuri & Vinyals 2019), as COLA uses it: train a classifier on
generated labelled images only, then report its accuracy on real labelled images.

The classifier is a small CNN (3 conv blocks of width `width`, global average pool, linear), trained with
Adam on images in [-1, 1] at their native size by the one trainer (fsgen.metrics.classifier); the real
test set is the training dataset (with labels) or `reference` (a data config with labels, e.g. a test
split). The generator side is a labelled sampler: sample_fn(key, n) returning (images [n, H, W, C],
labels [n]).
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from fsgen.metrics import classifier


class SmallCNN(nn.Module):
  """[B, H, W, C] in [-1, 1] -> logits [B, num_classes] (no normalisation: `train` changes nothing)."""

  num_classes: int
  width: int = 32

  @nn.compact
  def __call__(self, x, train: bool = True):
    del train
    for i in range(3):
      x = nn.relu(nn.Conv(self.width * 2**i, (3, 3), strides=(2, 2))(x))
    return nn.Dense(self.num_classes)(jnp.mean(x, axis=(1, 2)))


def cas(
  gen_images,
  gen_labels,
  real_images,
  real_labels,
  num_classes: int,
  key,
  *,
  steps: int = 500,
  batch: int = 64,
  lr: float = 1e-3,
  width: int = 32,
  tx: optax.GradientTransformation | None = None,
) -> float:
  """Accuracy in [0, 1] on real images of a SmallCNN trained on generated ones (images uint8 or float in
  [-1, 1], labels int). Pass the same `tx` object across calls to reuse the compiled step."""
  clf = classifier.train(
    key,
    SmallCNN(int(num_classes), int(width)),
    [(gen_images, gen_labels)],
    steps=steps,
    batch_size=batch,
    tx=tx if tx is not None else optax.adam(lr),
  )
  return classifier.accuracy(clf, real_images, real_labels)


class Evaluator:
  """CAS of `n` generated labelled images, tested on the labelled training set (or `reference`).

  needs labelled samples: fsgen.metrics.Samplers hands `run` the method's jitted sample_labelled."""

  needs = ("labelled",)

  def __init__(
    self, dataset, n: int = 5000, steps: int = 500, batch: int = 64, width: int = 32, lr: float = 1e-3, reference=None
  ):
    if reference is not None:
      from fsgen import data as fsdata  # pylint: disable=import-outside-toplevel

      dataset = fsdata.load(dict(reference))
    if dataset.labels is None:
      raise ValueError("cas needs labelled real images (set data.labels or give a labelled reference)")
    self.images, self.labels = np.asarray(dataset.images), np.asarray(dataset.labels)
    self.num_classes = int(self.labels.max()) + 1
    self.n, self.train_kw = int(n), dict(steps=steps, batch=batch, width=width)
    self.tx = optax.adam(lr)  # one object: every evaluation reuses the compiled training step

  def run(self, sample_fn, key) -> dict[str, float]:
    out = sample_fn(key, self.n)
    if not isinstance(out, tuple) or len(out) != 2:
      raise ValueError("cas needs a labelled sampler: sample_fn(key, n) -> (images, labels)")
    images, labels = np.asarray(out[0], np.float32), np.asarray(out[1])
    return {
      "cas": cas(
        images,
        labels,
        self.images,
        self.labels,
        self.num_classes,
        jax.random.fold_in(key, 1),
        tx=self.tx,
        **self.train_kw,
      )
    }
