"""Sec. 6 classification protocol: ResNet-20 size, training on real / generated / Mix, the protocol on a
trained sCOLA workdir."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from fsgen import classify, configs, train
from fsgen.nets.resnet import ResNet18Encoder, ResNet20


def _count(tree):
  return sum(int(np.prod(x.shape)) for x in jax.tree.leaves(tree))


def test_network_sizes_match_the_papers():
  shapes = jax.eval_shape(
    lambda: ResNet20(num_classes=10).init(jax.random.key(0), jnp.zeros((1, 32, 32, 3)), train=False)
  )
  assert 0.26e6 < _count(shapes["params"]) < 0.28e6  # Table 3: ResNet-20 0.27M
  shapes = jax.eval_shape(
    lambda: ResNet18Encoder(embed_dim=10).init(jax.random.key(0), jnp.zeros((1, 32, 32, 3)), train=False)
  )
  assert 11.0e6 < _count(shapes["params"]) < 11.4e6  # ResNet-18 trunk + two heads
  from fsgen.nets.cola_generator import InfoGANGenerator

  shapes = jax.eval_shape(lambda: InfoGANGenerator(upsample="transpose").init(jax.random.key(0), jnp.zeros((1, 74))))
  assert _count(shapes["params"]) == 8_607_811  # Table 4: InfoGAN 8.6M


def _two_class_set(n, rng, flip_labels=False):
  y = np.arange(n) % 2
  x = np.where(y[:, None, None, None] == 1, 0.6, -0.6) + 0.2 * rng.normal(size=(n, 8, 8, 1))
  return x.astype(np.float32), (1 - y if flip_labels else y)


def test_classifier_learns_and_mix_uses_both_sets():
  rng = np.random.default_rng(0)
  cfg = classify.default_config(
    epochs=3, steps_per_epoch=5, batch_size=16, width=4, learning_rate=0.05, halve_every_epochs=2
  )
  real, test = _two_class_set(32, rng), _two_class_set(64, rng)
  model, v = classify.train_classifier(jax.random.key(0), cfg, 2, real=real, mode="real")
  assert classify.accuracy(model, v, *test) >= 0.9
  # A "generated" set with swapped labels: trained on it alone the classifier is wrong on the real test set;
  # Mix sees both halves, so it cannot be as wrong.
  swapped = _two_class_set(32, rng, flip_labels=True)
  model, v = classify.train_classifier(jax.random.key(0), cfg, 2, generated=swapped, mode="generated")
  assert classify.accuracy(model, v, *test) <= 0.1
  with pytest.raises(ValueError, match="needs the real and generated set"):
    classify.train_classifier(jax.random.key(0), cfg, 2, real=real, mode="mix")


def test_protocol_on_a_trained_scola_workdir(tmp_path):
  c = configs.load("scola_fmnist_5spc_cpu:test")
  c.devices, c.progress = 1, False
  train.train_and_evaluate(c, tmp_path)
  images, labels = classify.generate_per_class(*classify.load_generator(tmp_path)[:2], jax.random.key(0), 3, 10)
  assert images.shape == (30, 16, 16, 1) and np.array_equal(labels, np.repeat(np.arange(10), 3))
  out = classify.run(tmp_path)
  assert set(out) == {"real", "generated", "mix"} and all(0.0 <= a <= 1.0 for a in out.values())
