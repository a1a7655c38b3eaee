"""The one classifier trainer (fsgen.metrics.classifier) and the Sec. 6 protocol on it (small_sample):
network sizes, learning from one or two pools, batch norm, augmentation, one compiled step, the protocol
on a trained sCOLA workdir."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from fsgen.metrics import cas, classifier, small_sample
from fsgen.nets.autoencoder import InfoGANEncoder
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


def _two_class_set(n, rng, flip_labels=False, size=8):
  y = np.arange(n) % 2
  x = np.where(y[:, None, None, None] == 1, 0.6, -0.6) + 0.2 * rng.normal(size=(n, size, size, 1))
  return x.astype(np.float32), (1 - y if flip_labels else y)


def _cfg(**kw):
  return small_sample.default_config(
    **{"epochs": 3, "steps_per_epoch": 5, "batch_size": 16, "width": 4, "learning_rate": 0.05, "halve_every_epochs": 2}
    | kw
  )


def test_resnet_learns_and_mix_uses_both_sets():
  rng = np.random.default_rng(0)
  cfg = _cfg()
  real, test = _two_class_set(32, rng), _two_class_set(64, rng)
  clf = small_sample.train_mode(jax.random.key(0), cfg, 2, "real", real=real)
  assert classifier.accuracy(clf, *test) >= 0.9
  assert "batch_stats" in clf.variables  # ResNet-20's batch norm: running averages kept for inference
  # A "generated" set with swapped labels: trained on it alone the classifier is wrong on the real test set;
  # Mix sees both halves in every batch, so it cannot be as wrong.
  swapped = _two_class_set(32, rng, flip_labels=True)
  wrong = classifier.accuracy(small_sample.train_mode(jax.random.key(0), cfg, 2, "generated", generated=swapped), *test)
  assert wrong <= 0.1
  mixed = classifier.accuracy(
    small_sample.train_mode(jax.random.key(0), cfg, 2, "mix", real=real, generated=swapped), *test
  )
  assert mixed > wrong + 0.2
  with pytest.raises(ValueError, match="needs the real and generated set"):
    small_sample.train_mode(jax.random.key(0), cfg, 2, "mix", real=real)


def test_shares_split_every_batch_over_the_pools():
  assert classifier.shares(128, 2) == (64, 64) and classifier.shares(9, 2) == (5, 4)
  assert classifier.shares(7, 1) == (7,)
  with pytest.raises(ValueError, match="cannot be split"):
    classifier.shares(1, 2)


def test_batch_norm_net_uint8_pool_adam_and_one_compiled_step():
  """AugIntAE's domain classifier: the InfoGAN encoder (batch norm) with Adam on uint8 images."""
  rng = np.random.default_rng(1)
  y = np.arange(64) % 2
  x = np.where(y[:, None, None, None] == 1, 200, 40) + rng.integers(-30, 30, (64, 8, 8, 1))
  x = x.clip(0, 255).astype(np.uint8)
  net, tx = InfoGANEncoder(out=2, width=4, hidden=16, unit=False), optax.adam(1e-2)
  before = classifier._step._cache_size()  # pylint: disable=protected-access
  inits = classifier._init._cache_size()  # pylint: disable=protected-access
  clf = classifier.train(jax.random.key(0), net, [(x[:48], y[:48])], steps=20, batch_size=16, tx=tx)
  again = classifier.train(jax.random.key(1), net, [(x[:48], y[:48])], steps=5, batch_size=16, tx=tx)
  assert classifier._step._cache_size() == before + 1  # pylint: disable=protected-access
  assert classifier._init._cache_size() == inits + 1  # pylint: disable=protected-access
  assert classifier.accuracy(clf, x[48:], y[48:]) >= 0.9
  init = net.init(jax.random.key(0), jnp.zeros((1, 8, 8, 1)), train=False)
  moved = jax.tree.map(lambda a, b: float(jnp.abs(a - b).max()), clf.variables["batch_stats"], init["batch_stats"])
  assert max(jax.tree.leaves(moved)) > 0  # running averages follow the batches
  logits = clf.logits(x[48:], batch=5)  # a padded last batch of 1
  assert logits.shape == (16, 2)
  np.testing.assert_allclose(logits, clf.logits(x[48:], batch=500), rtol=1e-5, atol=1e-5)  # inference mode
  assert not np.allclose(again.logits(x[48:]), logits)  # another key, another classifier


def test_augmentation_is_applied_to_every_batch():
  rng = np.random.default_rng(2)
  real, test = _two_class_set(32, rng), _two_class_set(64, rng)
  blank = lambda key, x: jnp.zeros_like(x)  # an augmentation that erases the images: nothing to learn
  clf = classifier.train(
    jax.random.key(0), ResNet20(2, width=4), [real], steps=15, batch_size=16, tx=optax.sgd(0.05), augment=blank
  )
  logits = clf.logits(test[0])
  assert np.ptp(np.argmax(logits, -1)) == 0  # one class for every image
  assert 0.4 <= classifier.accuracy(clf, *test) <= 0.6


@pytest.mark.parametrize("fill", [0.0, -1.0, "edge", "reflect"])
def test_crop_flip_pads_with_the_chosen_fill(fill):
  x = jnp.full((64, 8, 8, 1), -1.0).at[:, 3:5, 3:5].set(1.0)  # a white square on FMNIST's black background
  out = np.asarray(classifier.CropFlip(pad=2, fill=fill)(jax.random.key(0), x))
  values = set(np.unique(out).tolist())
  expected = {0.0: {-1.0, 0.0, 1.0}, -1.0: {-1.0, 1.0}, "edge": {-1.0, 1.0}, "reflect": {-1.0, 1.0}}[fill]
  assert values == expected
  if fill != 0.0:  # shifted by at most 2 pixels, the square stays whole and the rest is background
    np.testing.assert_allclose(out.sum(axis=(1, 2, 3)), float(x[0].sum()))


def test_cas_learns_from_the_generated_labels():
  rng = np.random.default_rng(3)
  gen, real = _two_class_set(64, rng), _two_class_set(64, rng)
  good = cas.cas(*gen, *real, 2, jax.random.key(0), steps=40, batch=16, width=4, lr=1e-2)
  bad = cas.cas(gen[0], 1 - gen[1], *real, 2, jax.random.key(0), steps=40, batch=16, width=4, lr=1e-2)
  assert good >= 0.9 and bad <= 0.1


def test_protocol_on_a_trained_scola_workdir(tmp_path):
  """experiments/reproduce/cola.py's classifier cell: the generator from the workdir's export, the three
  modes through fsgen.metrics.evaluate, per-class generated images."""
  from experiments import configs
  from experiments.reproduce import cola as reproduce
  from fsgen import metrics, train
  from fsgen.sample import load_sampler

  c = configs.load("scola_fmnist_5spc_cpu:test")
  c.devices, c.progress = 1, False
  train.train_and_evaluate(c, tmp_path)
  method, params = load_sampler(str(tmp_path))
  fn = metrics.Samplers(method, {}).for_evaluator(object(), params)
  images, labels = small_sample.generate_per_class(fn.cluster, jax.random.key(0), 3, 10, chunk=2)
  assert images.shape == (30, 16, 16, 1) and np.array_equal(labels, np.repeat(np.arange(10), 3))
  out = reproduce.classify_workdir(tmp_path, c)
  assert set(out) == {"real", "generated", "mix"} and all(0.0 <= a <= 1.0 for a in out.values())
  with pytest.raises(ValueError, match="unknown option"):
    small_sample.Evaluator(object.__new__(type("D", (), {"labels": np.zeros(2)})), None, bogus=1)


def test_reproduction_table_pairs_seeds_and_marks_missing_cells(tmp_path):
  import json

  from experiments.reproduce import cola as reproduce

  acc = {0: (0.50, 0.55), 1: (0.60, 0.62), 2: (0.70, 0.69)}  # seed: (real, mix) at 5 spc; 10 spc not run
  for seed, (real, mix) in acc.items():
    d = tmp_path / f"scola_5spc_seed{seed}"
    d.mkdir()
    for mode, a in (("real", real), ("mix", mix)):
      (d / f"classify_{mode}.json").write_text(json.dumps({"accuracy": a, "seconds": 1.0}))
  table = reproduce.report(tmp_path, [5, 10], [0, 1, 2], [])
  row5 = next(line for line in table.splitlines() if line.startswith("| 5 |"))
  row10 = next(line for line in table.splitlines() if line.startswith("| 10 |"))
  diffs = np.array([5.0, 2.0, -1.0])
  half = 4.302653 * diffs.std(ddof=1) / np.sqrt(3)  # t(0.975, 2)
  assert "60.00 ± 10.00 (n=3)" in row5 and "+5.0, +2.0, -1.0" in row5
  assert f"[{diffs.mean() - half:.2f}, {diffs.mean() + half:.2f}]" in row5
  assert row10.count("n/a") == 5  # three modes, the paired difference, the per-seed list
  assert "classifier cells ran: 6 of 18" in table


def test_copied_cells_without_their_generator_train_it_again(tmp_path, monkeypatch):
  """Cells copied from results/cola/ to a new machine: a finished classifier is kept, a pending one gets
  its generator trained again (the recorded generator.json has no checkpoint behind it)."""
  import json

  from experiments.reproduce import cola as reproduce

  calls = []
  monkeypatch.setattr(reproduce.train, "train_and_evaluate", lambda c, w: calls.append("train") or _Result())
  monkeypatch.setattr(reproduce, "classify_workdir", lambda w, c, modes: calls.append(modes) or {modes[0]: 0.7})
  d = tmp_path / "scola_5spc_seed0"
  d.mkdir()
  (d / "generator.json").write_text(json.dumps({"seconds": 64.0, "steps": 900}))
  (d / "classify_real.json").write_text(json.dumps({"accuracy": 0.57, "seconds": 190.0}))
  out = reproduce.scola_cells(tmp_path, 5, 0, test=True, progress=False, modes=("real", "mix"))
  assert calls == ["train", ("mix",)]
  assert out["real"]["accuracy"] == 0.57 and out["mix"]["accuracy"] == 0.7 and out["generator"]["steps"] == 7
  calls.clear()
  (d / "checkpoints").mkdir()  # the generator is here now: nothing runs again
  reproduce.scola_cells(tmp_path, 5, 0, test=True, progress=False, modes=("real", "mix"))
  assert calls == []


class _Result:
  step = 7
