"""LASIUM's task sampler (strategy geometry, epsilon rejection, determinism, VAE first shots, query shift),
real episodes, the Omniglot alphabet filters and class split, and the methods' phases."""

import random

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from fsgen import data as fsdata
from fsgen.data import class_split
from fsgen.data.episodes import fixed_episodes, sample_episode, write_episodes
from fsgen.data.info import DataInfo
from fsgen.data.sources import DataError, read_source
from fsgen.meta.latent_tasks import draw_anchors, in_class_codes, min_pairwise_sq_distance, oc_partners
from fsgen.methods import lasium, lasium_gan, lasium_supervised, lasium_tasks, lasium_vae
from fsgen.metrics.episodes import Evaluator

from conftest import shared_path


def test_ro_codes_lie_on_the_segment_toward_their_random_partner():
  anchors = jax.random.normal(jax.random.key(0), (4, 16))
  v = jax.random.normal(jax.random.key(1), (4, 5, 16))
  codes = in_class_codes(jax.random.key(2), anchors, 5, "ro", alpha=0.3, prior=lambda k, s: v)
  np.testing.assert_allclose(codes, anchors[:, None] + 0.3 * (v - anchors[:, None]), rtol=1e-5, atol=1e-6)
  # with the default prior, same key -> same partners: the fraction along (v - z) is alpha for every code
  codes = in_class_codes(jax.random.key(2), anchors, 5, "ro", alpha=0.3)
  v = jax.random.normal(jax.random.key(2), (4, 5, 16))
  np.testing.assert_allclose(codes - anchors[:, None], 0.3 * (v - anchors[:, None]), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("n", [2, 3, 5, 7])
def test_oc_partners_are_other_anchors_of_the_task_at_fraction_alpha(n):
  count = 2 * n + 1
  anchors = jax.random.normal(jax.random.key(n), (n, 32))
  codes = np.asarray(in_class_codes(jax.random.key(1), anchors, count, "oc", alpha=0.25))
  a = np.asarray(anchors)
  partners = np.asarray(oc_partners(n, count))
  for c in range(n):
    for s in range(count):
      # the code is z_c + alpha (z_p - z_c) for exactly one anchor p != c, or a noise code when s+1 = 0 mod n
      residual = [np.abs(codes[c, s] - (a[c] + 0.25 * (a[p] - a[c]))).max() for p in range(n)]
      if (s + 1) % n == 0:
        assert partners[c, s] == -1 and min(residual) > 1e-2
      else:
        p = int(np.argmin(residual))
        assert p != c and p == partners[c, s] == (c + s + 1) % n and residual[p] < 1e-5
  # over one cycle every other anchor is used once
  assert sorted(partners[0, : n - 1].tolist()) == list(range(1, n))


def test_n_codes_are_anchor_plus_scaled_noise():
  anchors = jax.random.normal(jax.random.key(0), (5, 64))
  codes = in_class_codes(jax.random.key(1), anchors, 400, "n", sigma=0.5)
  delta = np.asarray(codes - anchors[:, None])
  assert abs(delta.std() - 0.5) < 0.01 and abs(delta.mean()) < 0.01


def test_epsilon_rejection_accepts_only_anchor_sets_further_apart_than_epsilon():
  draw = lambda k: (jax.random.normal(k, (5, 4)), ())
  eps = 3.0  # in 4-d about half of the 5-anchor sets have a pair closer than this (squared)
  run = jax.jit(jax.vmap(lambda k: draw_anchors(k, draw, eps, 100)))
  codes, _, rejects, ok = run(jax.random.split(jax.random.key(0), 64))
  assert bool(ok.all()) and int(rejects.sum()) > 10
  dists = jax.vmap(min_pairwise_sq_distance)(codes)
  assert float(dists.min()) > eps
  # the returned set is the first accepted draw: draw number `rejects`
  for t in range(4):
    first = draw(jax.random.fold_in(jax.random.split(jax.random.key(0), 64)[t], int(rejects[t])))[0]
    np.testing.assert_array_equal(codes[t], first)


def test_impossible_epsilon_ends_the_bounded_loop_with_a_flag():
  draw = lambda k: (jax.random.normal(k, (5, 4)), ())
  codes, _, rejects, ok = jax.jit(lambda k: draw_anchors(k, draw, 1e9, 7))(jax.random.key(0))
  assert not bool(ok) and int(rejects) == 7 and codes.shape == (5, 4)
  _, _, rejects, ok = jax.jit(lambda k: draw_anchors(k, draw, 0.0, 7))(jax.random.key(0))
  assert bool(ok) and int(rejects) == 0


def _tiny_lasium(kind="gan", strategy="ro", **hp):
  c = lasium.default_config()
  c.learner.width, c.learner.blocks = 4, 2
  c.maml.inner_steps, c.maml.eval_steps = 1, 2
  c.generator.kind, c.generator.width, c.generator.latent = kind, 4, 8
  c.lasium.untrained_generator = True
  c.lasium.strategy = strategy
  c.batch_size = 2
  c.meta.n_way, c.meta.k_shot, c.meta.k_query = 3, 1, 2
  for k, v in hp.items():
    c.lasium[k] = v
  return c


def _images(n=24, classes=4, seed=0):
  rng = np.random.default_rng(seed)
  images = rng.integers(0, 256, (n, 28, 28, 1), dtype=np.uint8)
  return {"images": jnp.asarray(images), "labels": jnp.asarray(np.arange(n) % classes, jnp.int32)}


@pytest.mark.parametrize("kind", ["gan", "vae"])
def test_sampler_same_key_same_task_and_shapes(kind):
  data = _images()
  c = _tiny_lasium(kind, epsilon=1.0)
  method = lasium.Method(c, DataInfo.for_arrays(data, c.batch_size))
  state = method.init(jax.random.key(0), data)
  tasks = jax.jit(method.tasks)
  s1, q1, m1 = tasks(state, data, jax.random.key(5))
  s2, q2, _ = tasks(state, data, jax.random.key(5))
  s3, _, _ = tasks(state, data, jax.random.key(6))
  assert s1.shape == (2, 3, 1, 28, 28, 1) and q1.shape == (2, 3, 2, 28, 28, 1)
  np.testing.assert_array_equal(s1, s2)
  np.testing.assert_array_equal(q1, q2)
  assert not np.array_equal(s1, s3)
  assert float(m1["lasium/anchor_failed"]) == 0.0 and np.isfinite(float(m1["lasium/anchor_rejects"]))
  if kind == "vae":  # the first shot of every class is a real image of the data
    real = np.asarray(fsdata.to_float(data["images"]))
    for t in range(2):
      for n in range(3):
        assert np.abs(real - np.asarray(s1[t, n, 0])[None]).max(axis=(1, 2, 3)).min() < 1e-6


def test_query_shift_fills_with_the_background_not_black():
  gen = lasium_tasks.GanTasks(width=4, latent=8, channels=1)
  # a "generator" that draws a white page with one black stroke in the middle
  page = jnp.ones((28, 28, 1)).at[12:16, 10:18].set(-1.0)
  gen.decode = lambda frozen, z: jnp.broadcast_to(page, (z.shape[0], 28, 28, 1))
  hp = _tiny_lasium(query_shift=5).lasium
  _, query, _ = lasium_tasks.sample_tasks(gen, hp, {}, {}, jax.random.key(0), num_tasks=4, n_way=3, k_shot=1, k_query=5)
  q = np.asarray(query).reshape(-1, 28, 28)
  assert q.min() == -1.0  # the stroke survives
  assert (q[:, 0, :] == 1.0).all() and (q[:, -1, :] == 1.0).all() and (q[:, :, 0] == 1.0).all()
  assert len({q[i].tobytes() for i in range(len(q))}) > 10  # shifted by different offsets


def test_fixed_episodes_properties():
  labels = np.repeat(np.arange(12), 20)
  support, query, classes = fixed_episodes(labels, n_way=5, k_shot=5, k_query=15, n_tasks=50, seed=42)
  assert support.shape == (50, 5, 5) and query.shape == (50, 5, 15)
  for t in range(50):
    assert len(set(classes[t].tolist())) == 5
    assert not set(support[t].ravel()) & set(query[t].ravel())
    assert len(set(np.concatenate([support[t].ravel(), query[t].ravel()]))) == 100
    for n in range(5):
      assert (labels[support[t, n]] == classes[t, n]).all() and (labels[query[t, n]] == classes[t, n]).all()
  again = fixed_episodes(labels, n_way=5, k_shot=5, k_query=15, n_tasks=50, seed=42)
  other = fixed_episodes(labels, n_way=5, k_shot=5, k_query=15, n_tasks=50, seed=43)
  np.testing.assert_array_equal(support, again[0])
  np.testing.assert_array_equal(query, again[1])
  assert not np.array_equal(support, other[0])
  with pytest.raises(ValueError, match="classes with >= 21 images"):
    fixed_episodes(labels, n_way=5, k_shot=6, k_query=15, n_tasks=1, seed=0)


def test_write_episodes_records_image_names(tmp_path):
  labels = np.repeat(np.arange(6), 4)
  support, query, _ = fixed_episodes(labels, n_way=3, k_shot=1, k_query=2, n_tasks=2, seed=0)
  names = [f"img{i}" for i in range(24)]
  write_episodes(tmp_path / "e.json", support, query, names, seed=0)
  import json

  rec = json.loads((tmp_path / "e.json").read_text())
  assert rec["seed"] == 0 and rec["tasks"][1]["query"][2] == [names[i] for i in query[1, 2]]


def test_sample_episode_in_jit_properties():
  labels = jnp.asarray(np.repeat(np.arange(8), 10), jnp.int32)
  labels = labels.at[:7].set(7)  # class 0 keeps 3 images: too few for 1 + 5, never chosen
  draw = jax.jit(lambda k: sample_episode(k, labels, 8, n_way=5, k_shot=1, k_query=5))
  seen = set()
  for i in range(20):
    s, q = draw(jax.random.key(i))
    cls = np.asarray(labels)[np.asarray(s)[:, 0]]
    assert len(set(cls.tolist())) == 5 and 0 not in cls
    assert (np.asarray(labels)[np.asarray(q)] == cls[:, None]).all()
    allidx = np.concatenate([np.asarray(s).ravel(), np.asarray(q).ravel()])
    assert len(set(allidx.tolist())) == 30
    seen |= set(cls.tolist())
  assert seen == set(range(1, 8))
  np.testing.assert_array_equal(draw(jax.random.key(3))[0], draw(jax.random.key(3))[0])


def test_omniglot_alphabet_filters():
  path = shared_path("omniglot", "images_background_small2.zip")
  raw = read_source(f"omniglot:{path}", alphabets="Tagalog, Sanskrit")
  assert len(raw.images) == 340 + 840 and len(raw.class_names) == 17 + 42
  assert all(n.split("/")[0] in ("Tagalog", "Sanskrit") for n in raw.class_names)
  dropped = read_source(f"omniglot:{path}", exclude_alphabets="Greek,Latin")
  assert len(dropped.images) == 3120 - 1000 and not any(n.startswith(("Greek/", "Latin/")) for n in dropped.class_names)
  with pytest.raises(DataError, match="has no alphabet 'Klingon'"):
    read_source(f"omniglot:{path}", alphabets="Klingon")
  with pytest.raises(DataError, match="apply to omniglot"):
    read_source("builtin:digits", alphabets="Greek")


def test_class_split_is_the_official_seeded_shuffle_and_a_partition():
  keys = [f"images_{'background' if i < 30 else 'evaluation'}/A{i % 7}/character{i:02d}" for i in range(50)]
  parts = class_split.split_classes(keys, 47, (30, 5, 15))
  assert [len(p) for p in parts] == [30, 5, 15]
  assert sorted(np.concatenate(parts).tolist()) == list(range(50))
  ordered = sorted(keys)
  random.seed(47)
  random.shuffle(ordered)  # exactly what the official OmniglotDatabase does with the folder paths
  assert {keys[i] for i in parts[0]} == set(ordered[:30]) and {keys[i] for i in parts[2]} == set(ordered[35:])
  with pytest.raises(DataError, match="add up to 49"):
    class_split.split_classes(keys, 47, (30, 5, 14))


def test_class_split_of_an_omniglot_source_keeps_whole_characters():
  path = shared_path("omniglot", "images_background_small1.zip")
  cfg = dict(source=f"omniglot:{path}", resolution=28, channels=1, class_split="test", class_split_sizes=(100, 16, 20))
  test = fsdata.load(cfg)
  train = fsdata.load({**cfg, "class_split": "train"})
  assert test.num_classes == 20 and train.num_classes == 100 and len(test) == 400
  assert not set(test.class_names) & set(train.class_names)


def test_episodes_evaluator_refuses_meta_test_characters_seen_in_training():
  train = fsdata.load(
    dict(source=f"omniglot:{shared_path('omniglot', 'images_background_small1.zip')}", resolution=28, channels=1)
  )
  small2 = dict(source=f"omniglot:{shared_path('omniglot', 'images_background_small2.zip')}", resolution=28, channels=1)
  with pytest.raises(ValueError, match="meta-test classes are also training classes"):
    Evaluator(train, reference={**small2, "alphabets": "Greek,Tagalog"}, n_tasks=2)
  ev = Evaluator(train, reference={**small2, "alphabets": "Japanese_(katakana),Sanskrit,Tagalog"}, n_tasks=4)
  assert ev.images.shape[0] == 2120 and ev.support.shape == (4, 5, 1) and ev.query.shape == (4, 5, 15)
  # an oracle that answers the true class scores 1; a constant answer scores 1 / n_way
  oracle = lambda s, q: jnp.broadcast_to(jnp.arange(5)[None, :, None], (s.shape[0], 5, 15))
  fn = lambda k, n: None
  fn.classify = oracle
  assert ev.run(fn, jax.random.key(0))["accuracy"] == 1.0
  fn.classify = lambda s, q: jnp.zeros((s.shape[0], 5, 15), jnp.int32)
  out = ev.run(fn, jax.random.key(0))
  assert out["accuracy"] == pytest.approx(0.2) and out["ci95"] == pytest.approx(0.0) and out["tasks"] == 4


def test_lasium_meta_step_trains_the_learner_and_keeps_the_generator_frozen():
  data = _images()
  c = _tiny_lasium("gan", "oc")
  method = lasium.Method(c, DataInfo.for_arrays(data, c.batch_size))
  state = method.init(jax.random.key(0), data)
  new, metrics = jax.jit(method.meta_step)(state, data, jax.random.key(1))
  leaves = lambda t: jax.tree.leaves(t)
  assert all(np.array_equal(a, b) for a, b in zip(leaves(new["frozen"]), leaves(state["frozen"])))
  assert any(not np.array_equal(a, b) for a, b in zip(leaves(new["params"]), leaves(state["params"])))
  assert np.isfinite(float(metrics["learner/query_loss"])) and float(metrics["learner/grad_norm"]) > 0


def test_lasium_requires_a_generator_workdir_unless_untrained():
  c = _tiny_lasium()
  c.lasium.untrained_generator = False
  with pytest.raises(ValueError, match="config.init_from"):
    lasium.Method(c, DataInfo.for_arrays(_images(), 2))


def _phase(method, name):
  return next(p for p in method.phases() if p.name == name)


def test_gan_and_vae_phases_update_only_their_networks():
  data = _images()
  c = lasium_gan.default_config()
  c.model.G.width = c.model.D.width = 4
  c.batch_size = 4
  gan = lasium_gan.Method(c, DataInfo.for_arrays(data, 4))
  state = gan.init(jax.random.key(0), data)
  same = lambda a, b: all(np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))
  for name, trained, frozen in [("D", "D", "G"), ("G", "G", "D")]:
    new, metrics = jax.jit(_phase(gan, name).fn)(state, data, jax.random.key(1))
    assert not same(new["params"][trained], state["params"][trained])
    assert same(new["params"][frozen], state["params"][frozen])
    assert all(np.isfinite(float(v)) for v in metrics.values())
  c = lasium_vae.default_config()
  c.model.width = 4
  c.batch_size = 4
  vae = lasium_vae.Method(c, DataInfo.for_arrays(data, 4))
  state = vae.init(jax.random.key(0), data)
  step = jax.jit(_phase(vae, "vae").fn)
  new, metrics = step(state, data, jax.random.key(1))
  assert float(metrics["vae/kl"]) >= 0 and float(metrics["vae/reconstruction"]) > 0
  moved = lambda a, b: any(not np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))
  assert moved(new["params"]["E"], state["params"]["E"]) and moved(new["params"]["G"], state["params"]["G"])
  assert moved(new["batch_stats"], state["batch_stats"])


def test_supervised_tasks_are_labelled_episodes_of_the_data():
  data = _images(n=40, classes=4)
  c = lasium_supervised.default_config()
  c.learner.width, c.learner.blocks = 4, 2
  c.batch_size, c.meta.n_way, c.meta.k_shot, c.meta.k_query = 2, 3, 2, 3
  method = lasium_supervised.Method(c, DataInfo.for_arrays(data, 2))
  state = method.init(jax.random.key(0), data)
  support, query, _ = method.tasks(state, data, jax.random.key(1))
  real = np.asarray(fsdata.to_float(data["images"]))
  labels = np.asarray(data["labels"])

  def label_of(x):
    return labels[int(np.argmin(np.abs(real - np.asarray(x)[None]).max(axis=(1, 2, 3))))]

  for t in range(2):
    for n in range(3):
      cls = {label_of(x) for x in np.concatenate([support[t, n], query[t, n]])}
      assert len(cls) == 1
  with pytest.raises(ValueError, match=">= 5 classes"):
    c.meta.n_way = 5
    lasium_supervised.Method(c, DataInfo.for_arrays(data, 2))
