"""COLA / sCOLA: Step I phase (Hungarian table updates, alternating epochs, 1 vs 4 devices), Step II
(joint G + code updates, renormalisation onto the spheres), Step III sampling, every preset for 2 steps."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments import configs
from fsgen import data as fsdata
from fsgen import methods, schedule, train
from fsgen.data.info import DataInfo
from fsgen.losses import perceptual
from fsgen.losses.assignment import cluster_labels
from fsgen.methods import cola, cola_encoder, scola


def _leaves_equal(a, b):
  la, lb = jax.tree.leaves(a), jax.tree.leaves(b)
  return len(la) == len(lb) and all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(la, lb))


def _quiet(c, **overrides):
  c.devices, c.progress = 1, False
  for k, v in overrides.items():
    c[k] = v
  return c


def _toy_data(n=24, res=16, ch=1, classes=4, seed=0):
  rng = np.random.default_rng(seed)
  return {
    "images": jnp.asarray(rng.integers(0, 256, (n, res, res, ch)), jnp.uint8),
    "labels": jnp.asarray(np.arange(n) % classes, jnp.int32),
  }


# ---- Step I -------------------------------------------------------------------------------------------


def test_gmm_targets_on_sphere_and_one_hot_when_sigma_zero():
  t, mu = cola_encoder.gmm_targets(jax.random.key(0), 500, 5)
  np.testing.assert_allclose(np.linalg.norm(np.asarray(t), axis=-1), 1.0, atol=1e-6)
  assert set(np.unique(np.asarray(t))) == {0.0, 1.0}
  counts = np.bincount(np.asarray(cluster_labels(t, mu)), minlength=5)
  assert counts.min() > 60  # Categorical(1/K): roughly balanced
  t2, _ = cola_encoder.gmm_targets(jax.random.key(0), 50, 5, means="uniform", sigma=0.05)
  np.testing.assert_allclose(np.linalg.norm(np.asarray(t2), axis=-1), 1.0, atol=1e-5)


def test_step_one_alternates_epochs_permutes_targets_and_matches_on_four_devices(tmp_path):
  """Through the loop: 8 images in batches of 8, so epochs (assignment, rotation) alternate every step.
  The Hungarian callback inside the jitted step must see the whole batch when it is sharded. The lr
  halves every COLA epoch here (halve_every_epochs=1): every 2 loop steps, one per pass."""

  def config(**kw):
    c = _quiet(configs.load("cola_fmnist_cpu:stage=1,test"), total_steps=5, **kw)
    c.optim.E.halve_every_epochs = 1
    return c

  c = config(log_every=1)
  r1 = train.train_and_evaluate(c, tmp_path / "one")
  assert r1.trace_counts == {"assign": 1, "rotation": 1}
  lines = [json.loads(l) for l in (tmp_path / "one" / "metrics.jsonl").read_text().splitlines()]
  lines = {l["step"]: l for l in lines if "E/assign_loss" in l}
  assert "E/rot_loss" not in lines[1] and lines[1]["E/assign_loss"] > 0  # step 0: assignment epoch only
  assert lines[2]["E/rot_loss"] > 0 and lines[2]["E/assign_loss"] == lines[1]["E/assign_loss"]
  assert lines[3]["E/assign_loss"] != lines[2]["E/assign_loss"] and lines[3]["E/rot_loss"] == lines[2]["E/rot_loss"]
  assert all(0 < lines[s]["E/cluster_acc"] <= 1 for s in lines)
  # B.1's schedule in COLA epochs (assignment + rotation): 0.05 in epoch 0 (steps 0-1), 0.025 in epoch 1...
  for step, lr in [(0, 0.05), (1, 0.05), (2, 0.025), (3, 0.025), (4, 0.0125)]:
    np.testing.assert_allclose(lines[step + 1]["E/assign_lr" if step % 2 == 0 else "E/rot_lr"], lr, rtol=1e-6)
  # The target table is permuted, never changed: the same multiset of rows as Algorithm 2 drew.
  ds = fsdata.load(c.data)
  method = cola_encoder.Method(c, DataInfo.of(ds, c.batch_size))
  init = method.init(jax.random.split(jax.random.key(c.seed), 4)[0], {"images": jnp.asarray(ds.images)})
  before, after = np.asarray(init["extra"]["targets"]), np.asarray(r1.state["extra"]["targets"])
  assert sorted(map(tuple, before)) == sorted(map(tuple, after)) and not np.array_equal(before, after)
  assert not _leaves_equal(init["params"]["E"], r1.state["params"]["E"])
  r4 = train.train_and_evaluate(config(devices=4), tmp_path / "four")
  np.testing.assert_array_equal(after, np.asarray(r4.state["extra"]["targets"]))
  diffs = [
    np.max(np.abs(np.asarray(a) - np.asarray(b)))
    for a, b in zip(jax.tree.leaves(r1.state["params"]), jax.tree.leaves(r4.state["params"]))
  ]
  # Float reduction order differs; BN over 8 images at 1x1 (last stage) amplifies it over 5 SGD steps.
  # Per-device batch statistics (2 images) would differ by O(1).
  assert max(diffs) < 3e-2
  assert r4.state["params"]["E"]["embed"]["kernel"].sharding.num_devices == 4
  # Step II from this Step I: the cluster of each code is the Step-I cluster of its image.
  two = train.train_and_evaluate(
    _quiet(configs.load("cola_fmnist_cpu:stage=2,test"), init_from=str(tmp_path / "one")), tmp_path / "two"
  )
  expected = cluster_labels(r1.state["extra"]["targets"], r1.state["extra"]["means"])
  np.testing.assert_array_equal(np.asarray(two.state["extra"]["labels"]), np.asarray(expected))
  assert two.trace_counts == {"GZ": 1, "epoch_end": 1}


def test_step_one_schedule_in_paper_epochs_at_the_paper_size():
  """cola_cifar10 stage 1 (App. B.1): 200 COLA epochs of 2 x 391 updates, lr 0.05 x0.5 every 50: it
  halves at the start of COLA epochs 50, 100, 150 and ends at 0.05 / 8 (not 0.05 / 128)."""
  c = configs.load("cola_cifar10:stage=1")
  info = DataInfo(50_000, (32, 32, 3), 10, 128)
  assert schedule.steps(c, "total_steps", info, minimum=0) == 156_400
  lr = cola_encoder.Method(c, info).lr
  per_epoch = 2 * 391
  for epoch, expected in [(0, 0.05), (49, 0.05), (50, 0.025), (99, 0.025), (100, 0.0125), (150, 0.00625)]:
    np.testing.assert_allclose(float(lr(epoch * per_epoch)), expected, rtol=1e-6)
    np.testing.assert_allclose(float(lr((epoch + 1) * per_epoch - 1)), expected, rtol=1e-6)  # its last update
  np.testing.assert_allclose(float(lr(156_400 - 1)), 0.05 / 8, rtol=1e-6)


def test_step_one_weight_decay_spares_vectors_and_batch_larger_than_the_set_is_refused():
  c = configs.load("cola_fmnist_cpu:stage=1,test")
  data = _toy_data(n=8)
  method = cola_encoder.Method(c, DataInfo.for_arrays(data, c.batch_size))
  params = jax.jit(method.init)(jax.random.key(0), data)["params"]["E"]
  tx = method.txs["E"]
  updates, _ = tx.update(jax.tree.map(jnp.zeros_like, params), tx.init(params), params)
  flat = jax.tree_util.tree_leaves_with_path(updates)
  vectors = [float(jnp.abs(u).max()) for _, u in flat if u.ndim == 1]
  kernels = [float(jnp.abs(u).max()) for _, u in flat if u.ndim > 1]
  assert vectors and max(vectors) == 0.0  # BN scales / offsets and biases: no decay (MMDC)
  assert min(kernels) > 0.0  # every kernel decays: lr * wd * w
  c.optim.E.decay_vectors = True
  tx = cola_encoder.Method(c, DataInfo.for_arrays(data, c.batch_size)).txs["E"]
  updates, _ = tx.update(jax.tree.map(jnp.zeros_like, params), tx.init(params), params)
  assert max(float(jnp.abs(u).max()) for u in jax.tree.leaves(updates) if u.ndim == 1) > 0.0
  with pytest.raises(ValueError, match="batch_size=8 exceeds the 7 training images"):
    cola_encoder.Method(c, DataInfo.for_arrays(_toy_data(n=7), 8))


# ---- Step II / III ------------------------------------------------------------------------------------


def _scola(generator="infogan"):
  c = configs.load("scola_fmnist_5spc_cpu:test")
  c.cola.generator = generator
  c.cola.clusters = 4
  return c


@pytest.mark.parametrize("generator", ["infogan", "cgan"])
def test_step_two_updates_generator_and_only_the_batch_codes(generator):
  c = _scola(generator)
  data = _toy_data(n=20)
  method = scola.Method(c, DataInfo.for_arrays(data, c.batch_size))
  state = {**method.init(jax.random.key(0), data), "step": jnp.zeros((), jnp.int32)}
  z0 = np.asarray(state["params"]["Z"])
  k = c.cola.clusters
  np.testing.assert_allclose(z0[:, :k], np.eye(k)[np.arange(20) % k])  # sCOLA: one-hot class parts
  new, m = jax.jit(method.gz_step)(state, data, jax.random.key(1))
  z1 = np.asarray(new["params"]["Z"])
  moved = np.abs(z1 - z0).sum(-1) > 0
  # First Adam step: rows outside the batch have zero moments, so exactly the batch's rows move.
  assert moved.sum() == c.batch_size
  assert not _leaves_equal(new["params"]["G"], state["params"]["G"])
  assert int(new["opt"]["Z"][0].count) == 1 and float(m["G/rec"]) > 0
  if generator == "cgan":
    assert not _leaves_equal(new["batch_stats"]["G"], state["batch_stats"]["G"])


def test_epoch_end_puts_codes_back_on_their_spheres():
  c = _scola()
  data = _toy_data(n=20)
  method = scola.Method(c, DataInfo.for_arrays(data, c.batch_size))
  state = {**method.init(jax.random.key(0), data), "step": jnp.zeros((), jnp.int32)}
  k = c.cola.clusters
  # Scheduled at the last step of every epoch (20 images in batches of 8: 3 steps), after GZ.
  phases = {p.name: p for p in method.phases()}
  assert [s for s in range(9) if phases["epoch_end"].runs_at(s)] == [2, 5, 8]
  assert all(phases["GZ"].runs_at(s) for s in range(9))
  off = state["params"]["Z"] * jnp.linspace(0.5, 2.0, 20)[:, None]
  state = {**state, "params": {**state["params"], "Z": off}}
  done, m = jax.jit(method.epoch_end_step)(state, data, jax.random.key(0))
  z = np.asarray(done["params"]["Z"])
  np.testing.assert_allclose(np.linalg.norm(z[:, :k], axis=-1), 1.0, atol=1e-6)
  np.testing.assert_allclose(np.linalg.norm(z[:, k:], axis=-1), 1.0, atol=1e-6)
  np.testing.assert_allclose(np.linalg.norm(z, axis=-1), np.sqrt(2.0), atol=1e-6)  # Algorithm 1, not Eq. 3
  assert float(m["Z/class_norm_dev"]) < 1e-6 and float(m["Z/label_drift"]) == 0.0
  # A class part moved next to another class's corner is counted as drift (its label stays frozen).
  moved = state["params"]["Z"].at[0, :k].set(jnp.eye(k)[1] * 3.0)
  _, m2 = jax.jit(method.epoch_end_step)({**state, "params": {**state["params"], "Z": moved}}, data, jax.random.key(0))
  np.testing.assert_allclose(float(m2["Z/label_drift"]), 1 / 20)
  # The refit follows the renormalised codes.
  np.testing.assert_allclose(np.asarray(done["extra"]["mixture"]["mean"][1]), z[1::k].mean(0), atol=1e-5)


def test_per_cluster_sampling_draws_from_the_right_gaussian():
  rng = np.random.default_rng(0)
  means = np.array([[5.0, 0.0, 0.0], [0.0, -5.0, 0.0], [0.0, 0.0, 5.0]])
  scales = np.array([[1.0, 0.2, 0.2], [0.2, 2.0, 0.2], [0.5, 0.5, 0.5]])
  labels = np.repeat(np.arange(3), [400, 300, 500])
  z = means[labels] + scales[labels] * rng.normal(size=(1200, 3))
  mix = cola.fit_gaussians(jnp.asarray(z, jnp.float32), jnp.asarray(labels), 3, ridge=1e-4)
  for c in range(3):
    members = z[labels == c]
    np.testing.assert_allclose(np.asarray(mix["mean"][c]), members.mean(0), atol=1e-4)
    s = np.asarray(cola.sample_codes(mix, jax.random.key(c), 4000, jnp.full((4000,), c), renormalise_blocks=False))
    np.testing.assert_allclose(s.mean(0), members.mean(0), atol=4 * scales[c].max() / np.sqrt(4000) * 3)
    np.testing.assert_allclose(np.cov(s.T), np.cov(members.T), atol=0.1 * scales[c].max() ** 2)
    np.testing.assert_allclose(s.std(0), scales[c], rtol=0.15)
  # Uniform mixture: every cluster about equally often, whatever its size (400/300/500 codes).
  s = np.asarray(cola.sample_codes(mix, jax.random.key(9), 6000, None, renormalise_blocks=False))
  nearest = np.argmin(((s[:, None] - means[None]) ** 2).sum(-1), -1)
  np.testing.assert_allclose(np.bincount(nearest) / 6000, 1 / 3, atol=0.03)
  # Singular class covariance (2 codes in 3-D) stays finite thanks to the ridge.
  tiny = cola.fit_gaussians(jnp.asarray(z[:2], jnp.float32), jnp.zeros(2, jnp.int32), 1, ridge=1e-4)
  assert np.all(np.isfinite(np.asarray(tiny["chol"])))


def test_sample_renormalises_blocks_and_sample_cluster_uses_one_class():
  c = _scola()
  data = _toy_data(n=20)
  method = scola.Method(c, DataInfo.for_arrays(data, c.batch_size))
  state = method.init(jax.random.key(0), data)
  params = method.sampling_params(state)
  imgs = jax.jit(method.sample, static_argnums=2)(params, jax.random.key(0), 6)
  assert imgs.shape == (6, 16, 16, 1) and float(jnp.abs(imgs).max()) <= 1.0
  z = cola.sample_codes(params["mixture"], jax.random.key(1), 50, jnp.full((50,), 2), k=4)
  np.testing.assert_allclose(np.linalg.norm(np.asarray(z[:, :4]), axis=-1), 1.0, atol=1e-5)
  assert np.all(np.argmax(np.asarray(z[:, :4]), -1) == 2)  # class 2's codes stay near e_2


def test_scola_labelled_samples_feed_the_cas_evaluator(tmp_path):
  c = _quiet(configs.load("scola_fmnist_5spc_cpu:test"))
  c.evals = {"cas": {"type": "cas", "every": 2, "n": 40, "steps": 3, "batch": 8, "width": 4}}
  r = train.train_and_evaluate(c, tmp_path / "scola")
  method = methods.build(c, DataInfo.read(tmp_path / "scola" / "data_info.json"))
  params = method.sampling_params(r.state)
  images, labels = jax.jit(method.sample_labelled, static_argnums=2)(params, jax.random.key(0), 400)
  assert images.shape[0] == 400 and images.shape[-1] == 1 and labels.dtype == jnp.int32
  np.testing.assert_allclose(np.bincount(np.asarray(labels), minlength=10) / 400, 0.1, atol=0.05)
  lines = [json.loads(l) for l in (tmp_path / "scola" / "metrics.jsonl").read_text().splitlines()]
  assert 0.0 <= [l for l in lines if "cas/cas" in l][-1]["cas/cas"] <= 1.0
  # A method without labelled samples is refused before training starts, naming the evaluator.
  g = _quiet(configs.load("quickstart:test"))
  g.evals = {"score": {"type": "cas", "every": 2}}
  with pytest.raises(ValueError, match="evaluator .score. needs labelled samples: method .gan."):
    train.train_and_evaluate(g, tmp_path / "gan")
  assert not (tmp_path / "gan" / "checkpoints").exists()


# ---- Presets: all of them, 2 steps at reduced size ----------------------------------------------------

SCOLA = (
  ["scola_cifar10", "scola_fmnist_cpu"]
  + [f"scola_cifar10_{k}spc" for k in (5, 10, 20, 50, 100)]
  + [f"scola_fmnist_{k}spc_cpu" for k in (5, 10, 20)]
)


def test_cifar_and_stl_cola_presets_run_both_stages(tmp_path):
  # cola_fmnist_cpu runs both stages in the Step-I test above.
  for name in ("cola_cifar10", "cola_stl10"):
    one = train.train_and_evaluate(_quiet(configs.load(f"{name}:stage=1,test")), tmp_path / name / "1")
    assert one.step == 2 and (tmp_path / name / "1" / "export").exists()
    two = train.train_and_evaluate(
      _quiet(configs.load(f"{name}:stage=2,test"), init_from=str(tmp_path / name / "1")), tmp_path / name / "2"
    )
    assert two.step == 2 and (tmp_path / name / "2" / "samples" / "step_0000002.png").exists()


def test_scola_presets_delegate_to_their_base():
  # Every preset also runs 2 steps of its `test` form in tests/test_configs.py (stage 1 for the COLA ones).
  for name in SCOLA:
    c = configs.load(f"{name}:test")
    assert c.method == "scola" and c.classify.test_source and c.data.source == "builtin:digits"
  for k in (5, 10, 20, 50, 100):
    assert configs.load(f"scola_cifar10_{k}spc").to_dict() == configs.load(f"scola_cifar10:spc={k}").to_dict()
  for k in (5, 10, 20):
    c = configs.load(f"scola_fmnist_{k}spc_cpu:seed=2")
    assert c.to_dict() == configs.load(f"scola_fmnist_cpu:spc={k},seed=2").to_dict()
    assert c.data.shots == k and c.data.subset_seed == 2 and c.batch_size == min(128, 10 * k)


def test_cola_without_step_one_is_a_clear_error():
  c = configs.load("cola_fmnist_cpu:stage=2,test")
  with pytest.raises(ValueError, match="needs config.init_from = a cola_encoder workdir"):
    data = _toy_data()
    methods.build(c, DataInfo.for_arrays(data, c.batch_size)).init(jax.random.key(0), data)


@pytest.mark.slow  # compiles the gradient through VGG16 (about a minute on the 2-core CPU)
def test_perceptual_option_uses_a_frozen_vgg():
  from fsgen import assets

  if not (assets.cache_dir() / "lpips_vgg.npz").exists():
    pytest.skip("the lpips_vgg asset is not in the cache (fsgen.assets fetches it on first use)")
  c = _scola()
  c.cola.loss = "perceptual"
  data = _toy_data(n=20)
  method = scola.Method(c, DataInfo.for_arrays(data, c.batch_size))
  state = {**method.init(jax.random.key(0), data), "step": jnp.zeros((), jnp.int32)}
  new, m = jax.jit(method.gz_step)(state, data, jax.random.key(1))
  assert _leaves_equal(new["frozen"], state["frozen"]) and float(m["G/rec"]) > 0
  assert not _leaves_equal(new["params"]["G"], state["params"]["G"])
  x = jax.random.uniform(jax.random.key(0), (2, 16, 16, 1), minval=-1, maxval=1)
  assert float(perceptual.perceptual_loss(state["frozen"]["vgg"], x, x)) == 0.0
