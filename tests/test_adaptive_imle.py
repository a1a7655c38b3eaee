"""Adaptive IMLE / IMLE: the threshold rule on hand-made distances, thresholds never rise without a
re-match, the pool search equals brute force over the regenerated pool, IMLE equals Adaptive IMLE with
thresholds disabled, the official generator's shape, and every preset running 2 steps in its test form."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments import configs
from fsgen import data as fsdata
from fsgen import methods, train
from fsgen.data.info import DataInfo
from fsgen.data.preprocess import to_float
from fsgen.methods import adaptive_imle as am
from fsgen.nets import imle_generator as ig

PRESETS = [n for n in configs.available() if n.startswith(("adaimle_", "imle_"))]


def _setup(config):
  images = jnp.asarray(fsdata.load(config.data).images)
  data = {"images": images}
  method = methods.build(config, DataInfo.for_arrays(data, config.batch_size))
  state = {**jax.jit(method.init)(jax.random.key(0), data), "step": jnp.zeros((), jnp.int32)}
  return method, data, state


def _run(method, data, state, steps, key=None):
  """The loop's schedule without its I/O: each phase jitted once, then step += 1."""
  key = jax.random.key(1) if key is None else key
  phases = [(p, jax.jit(p.fn)) for p in method.phases()]
  history = []
  for _ in range(steps):
    step = int(state["step"])
    for p, fn in phases:
      if p.runs_at(step):
        state, _ = fn(state, data, jax.random.fold_in(key, step))
    history.append(jax.device_get(state["extra"]))
    state = {**state, "step": state["step"] + 1}
  return state, history


def test_threshold_rule_on_a_hand_made_sequence():
  """One example, gamma 0.1, staleness 2, force_resample 4; d = distance of the held latent each epoch."""
  kw = dict(adaptive=True, staleness=2, force_resample=4)
  tau, last, matched = jnp.array([1.0]), jnp.array([3]), jnp.array([False])
  # Epoch 0: forced (last 3 + 1 = 4); first match: tau from the new match's distance 0.5.
  trace = []
  for d_old, d_new in [
    (0.9, 0.5),
    (0.4, 0.0),
    (0.5, 0.0),
    (0.44, 0.6),
    (0.5, 0.0),
    (0.5, 0.0),
    (0.5, 0.0),
    (0.58, 0.7),
  ]:  # d_new: the new match's distance (used only if matched)
    last = last + 1
    mask = am.rematch_mask(jnp.array([d_old]), tau, last, **kw)
    tau = am.update_thresholds(mask, tau, jnp.array([d_old]), jnp.array([d_new]), matched, 0.1)
    last, matched = jnp.where(mask, 0, last), matched | mask
    trace.append((bool(mask[0]), round(float(tau[0]), 4), int(last[0])))
  assert trace == [
    (True, 0.45, 0),  # forced at epoch 0; tau = 0.9 * 0.5 (new match, never matched before)
    (False, 0.45, 1),  # 0.4 < 0.45 but only 1 epoch old (staleness 2)
    (False, 0.45, 2),  # 2 epochs old, but 0.5 is not below tau
    (True, 0.396, 0),  # 0.44 < 0.45, 3 epochs old: re-matched; tau = 0.9 * OLD distance 0.44
    (False, 0.396, 1),  # 0.5 > 0.396: hard example keeps its target
    (False, 0.396, 2),
    (False, 0.396, 3),
    (True, 0.522, 0),  # not below tau, but 4 epochs old: forced; tau = 0.9 * 0.58 (may rise: re-matched)
  ]


def test_threshold_rule_epoch_two_fires_at_staleness():
  mask = am.rematch_mask(
    jnp.array([0.3, 0.3, 0.5]),
    jnp.array([0.45, 0.45, 0.45]),
    jnp.array([1, 2, 2]),
    adaptive=True,
    staleness=2,
    force_resample=4,
  )
  np.testing.assert_array_equal(np.asarray(mask), [False, True, False])
  plain = am.rematch_mask(
    jnp.array([0.3, 0.3, 0.5]),
    jnp.array([0.45, 0.45, 0.45]),
    jnp.array([1, 2, 4]),
    adaptive=False,
    staleness=2,
    force_resample=4,
  )
  np.testing.assert_array_equal(np.asarray(plain), [False, False, True])


def test_thresholds_never_rise_without_a_rematch():
  rng = np.random.default_rng(0)
  n = 64
  tau, last, matched = jnp.ones(n), jnp.full(n, 9), jnp.zeros(n, bool)
  rematches = 0
  for _ in range(60):
    d_old, d_new = jnp.asarray(rng.uniform(0, 1, n)), jnp.asarray(rng.uniform(0, 1, n))
    last = last + 1
    mask = am.rematch_mask(d_old, tau, last, adaptive=True, staleness=3, force_resample=10)
    new_tau = am.update_thresholds(mask, tau, d_old, d_new, matched, 0.05)
    rose = np.asarray(new_tau > tau)
    assert not np.any(rose & ~np.asarray(mask))
    np.testing.assert_array_equal(np.asarray(new_tau)[~np.asarray(mask)], np.asarray(tau)[~np.asarray(mask)])
    # An adaptive (unforced) re-match always lowers the threshold: below (1 - gamma) * old tau.
    adaptive_only = np.asarray(mask & (last < 10) & matched)
    assert np.all(np.asarray(new_tau)[adaptive_only] < np.asarray(tau)[adaptive_only])
    rematches += int(mask.sum())
    tau, last, matched = new_tau, jnp.where(mask, 0, last), matched | mask
  assert rematches > n  # both branches were exercised


def test_rematch_phase_in_training_matches_all_then_tracks_thresholds():
  c = configs.load("adaimle_panda100_cpu:test")
  method, data, state = _setup(c)
  z0 = np.asarray(state["extra"]["z"])
  state, hist = _run(method, data, state, 10)  # 8 images, batch 4: 5 epochs
  first = hist[0]
  assert first["matched"].all() and (first["last"] == 0).all() and int(first["rounds"]) == 1
  assert not np.allclose(first["z"], z0)
  np.testing.assert_allclose(first["tau"], 0.99 * first["dist"], rtol=1e-6)
  for prev, cur in zip(hist, hist[1:]):  # thresholds never rise without a re-match (last reset to 0)
    rose = cur["tau"] > prev["tau"]
    assert not np.any(rose & (cur["last"] != 0))
    same = cur["last"] != 0
    np.testing.assert_array_equal(cur["tau"][same], prev["tau"][same])
  assert all(np.isfinite(h["dist"]).all() for h in hist)


@pytest.mark.parametrize("max_bytes", [0, 1])  # 0: default budget (one product); 1 byte: chunked scan
def test_pool_search_equals_bruteforce_over_the_regenerated_pool(max_bytes):
  c = configs.load("adaimle_panda100_cpu:test")
  c.imle.pool_factor, c.imle.chunk, c.imle.max_feature_bytes = 5, 7, max_bytes  # 40 samples, ragged chunks
  method, data, state = _setup(c)
  assert method.pool.fits == (max_bytes == 0) and method.pool.padded == 42
  key, blocks, z_dim, max_res = jax.random.key(3), c.model.G.blocks, c.model.G.z_dim, c.model.G.noise_max_res

  @jax.jit
  def run(g, images):
    x = method.dist.features(None, to_float(images))
    ids, d2 = method.pool.search(x, None, g, key)
    z, noise = ig.latents_from_ids(key, jnp.arange(40), z_dim, blocks, max_res)  # the whole pool at once
    pool = method.dist.features(None, method._generate(g, z, noise))
    zi, ni = ig.latents_from_ids(key, ids, z_dim, blocks, max_res)  # the matches, regenerated from their ids
    direct = method.dist.pairwise(None, method._generate(g, zi, ni), to_float(images))
    return ids, d2, pool, x, direct

  ids, d2, pool, x, direct = jax.device_get(run(state["params"]["G"], data["images"]))
  d = ((x[:, None].astype(np.float64) - pool[None]) ** 2).sum(-1)
  np.testing.assert_array_equal(ids, d.argmin(1))
  np.testing.assert_allclose(d2, d.min(1), rtol=1e-4)
  # The search space is the loss: the matched distance equals L(G(z_nn, s_nn), x).
  np.testing.assert_allclose(direct, d2, rtol=1e-4)


def test_pool_rule_regenerates_only_when_a_rematched_example_used_the_pool():
  used = jnp.array([True, False, False, True])
  assert not bool(am.needs_new_pool(jnp.array([False, True, True, False]), used, reuse=True))
  assert bool(am.needs_new_pool(jnp.array([False, True, False, True]), used, reuse=True))
  assert bool(am.needs_new_pool(jnp.array([False, True, False, False]), used, reuse=False))
  assert not bool(am.needs_new_pool(jnp.zeros(4, bool), used, reuse=False))


def _rounds(reuse: bool, masks):
  """The re-match step applied to hand-made masks [n] in order (a fresh state; the first mask is epoch 0's)."""
  c = configs.load("adaimle_panda100_cpu:test")
  c.imle.pool_reuse = reuse
  method, data, state = _setup(c)
  g, images = state["params"]["G"], data["images"]
  step = jax.jit(lambda ex, mask, key: method._rematch(None, g, images, ex, mask, ex["dist"], key))
  ex, out = state["extra"], []
  for i, mask in enumerate(masks):
    ex = step(ex, jnp.asarray(mask), jax.random.key(i))
    out.append(jax.device_get(ex))
  return method, out


def test_pool_reuse_keeps_key_and_features_between_regenerations():
  n = 8
  first, second = np.arange(n) < 3, (np.arange(n) >= 3) & (np.arange(n) < 6)
  masks = [np.ones(n, bool), first, second, first]  # all; then 3 examples; 3 others; the first 3 again
  method, hist = _rounds(True, masks)
  assert method.hold_pool
  assert [int(h["new_pool"]) for h in hist] == [1, 1, 0, 1] and int(hist[-1]["pools"]) == 3
  np.testing.assert_array_equal(hist[1]["pool_used"], first)  # a new pool, used by the first 3 only
  np.testing.assert_array_equal(hist[2]["pool_used"], first | second)  # the others use it too: reused
  np.testing.assert_array_equal(hist[2]["pool_key"], hist[1]["pool_key"])
  np.testing.assert_array_equal(hist[2]["pool_feats"], hist[1]["pool_feats"])  # the stored features
  assert not np.array_equal(hist[3]["pool_key"], hist[2]["pool_key"])  # the first 3 had used it
  np.testing.assert_array_equal(hist[3]["pool_used"], first)
  # Examples outside a round's mask keep their latents.
  np.testing.assert_array_equal(hist[2]["z"][first], hist[1]["z"][first])
  _, fresh = _rounds(False, masks)
  assert [int(h["new_pool"]) for h in fresh] == [1, 1, 1, 1]  # without reuse: a pool every round


def test_training_features_are_cached_once():
  c = configs.load("adaimle_panda100_cpu:test")
  method, data, state = _setup(c)
  expected = method.dist.features(None, to_float(data["images"]))
  np.testing.assert_allclose(np.asarray(state["extra"]["train_feats"]), np.asarray(expected), rtol=1e-6)
  state, hist = _run(method, data, state, 4)
  np.testing.assert_array_equal(np.asarray(state["extra"]["train_feats"]), np.asarray(expected))


def test_imle_skips_the_distance_pass_without_changing_training():
  runs = []
  for measure in (False, True):
    c = configs.load("imle_panda100_cpu:test")
    c.imle.update(measure_every_epoch=measure, force_resample=3)
    method, data, state = _setup(c)
    runs.append(_run(method, data, state, 8))  # 4 epochs: re-matches at epochs 0 and 3
  (s0, h0), (s1, h1) = runs
  for a, b in zip(jax.tree.leaves(s0["params"]), jax.tree.leaves(s1["params"])):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
  # Without the pass, d stays as measured at the last re-match; with it, it follows the generator.
  np.testing.assert_array_equal(h0[2]["dist"], h0[0]["dist"])
  assert not np.array_equal(h1[2]["dist"], h1[0]["dist"])


def test_imle_equals_adaptive_imle_with_thresholds_disabled():
  """gamma = 1 sets every threshold to 0, so d < tau never holds: only forced re-matches remain."""
  ada = configs.load("adaimle_panda100_cpu:test")
  ada.imle.change_coef = 1.0
  plain = configs.load("imle_panda100_cpu:test")
  assert plain.method == "imle" and not plain.imle.adaptive
  states = []
  for c in (ada, plain):
    method, data, state = _setup(c)
    state, hist = _run(method, data, state, 12)
    states.append((state, hist))
  (sa, ha), (sp, hp) = states
  assert [int(h["rounds"]) for h in ha] == [int(h["rounds"]) for h in hp]
  for a, b in zip(jax.tree.leaves(sa["params"]), jax.tree.leaves(sp["params"])):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
  # With gamma = 0.01 the adaptive test does fire on this run (otherwise the comparison proves little).
  ada.imle.change_coef = 0.01
  method, data, state = _setup(ada)
  _, h = _run(method, data, state, 12)
  assert int(h[-1]["rematched_total"]) > int(hp[-1]["rematched_total"])


def test_noise_up_to_a_resolution_and_zero_noise_weights():
  blocks = ig.blocks_for(16, 1)
  assert ig.noise_resolutions(blocks) == [1, 4, 8, 16] and ig.noise_resolutions(blocks, 4) == [1, 4]
  z, noise = ig.draw_latents(jax.random.key(0), 2, 8, blocks, max_res=4)
  assert [m.shape[1] for m in noise] == [1, 4]
  g = ig.Generator(blocks=blocks, width=8, map_layers=1, noise_max_res=4, zero_noise_weights=True)
  params = g.init(jax.random.key(1), z, noise)["params"]
  weights = {k: v["noise_weight"] for k, v in params.items() if isinstance(v, dict) and "noise_weight" in v}
  assert len(weights) == 3 and all(float(jnp.abs(w).max()) == 0.0 for w in weights.values())  # blocks at 1, 4, 4
  other = [m + 1.0 for m in noise]  # at init the output ignores the noise, not z
  out = lambda z, noise: np.asarray(g.apply({"params": params}, z, noise))
  np.testing.assert_array_equal(out(z, noise), out(z, other))
  assert float(np.abs(out(z, noise) - out(-z, noise)).max()) > 0
  full = ig.Generator(blocks=blocks, width=8, map_layers=1)
  full = full.init(jax.random.key(1), *ig.draw_latents(jax.random.key(2), 1, 8, blocks))
  assert sum(isinstance(v, dict) and "noise_weight" in v for v in full["params"].values()) == len(
    ig.parse_blocks(blocks)
  )


def test_official_generator_shape():
  blocks = ig.parse_blocks(ig.OFFICIAL_BLOCKS_256)
  per_res = {r: sum(1 for b in blocks if b[0] == r) for r, _ in blocks}
  assert len(blocks) == 28 and per_res == {1: 4, 4: 5, 8: 5, 16: 4, 32: 3, 64: 3, 128: 3, 256: 1}
  g = ig.Generator()
  z, noise = ig.draw_latents(jax.random.key(0), 1, 1024, ig.OFFICIAL_BLOCKS_256)
  assert sum(int(np.prod(m.shape[1:])) for m in noise) == 87_377  # one map per resolution 1, 4, 8, ..., 256 (official)
  shapes = jax.eval_shape(lambda: g.init(jax.random.key(0), z, noise))
  count = sum(int(np.prod(x.shape)) for x in jax.tree.leaves(shapes))
  assert abs(count - 36.6e6) / 36.6e6 < 0.01, count
  out = jax.eval_shape(lambda p: g.apply(p, z, noise), shapes)
  assert out.shape == (1, 256, 256, 3)


_RUNS = {}


def _two_steps(config_json: str, name: str):
  """2 steps of a test-form config; presets whose test forms are identical (the paper presets differ only
  in constants the test form fixes) share the run, since it would be the same computation."""
  if config_json in _RUNS:
    return _RUNS[config_json]
  method, data, state = _setup(configs.load(f"{name}:test"))
  before = jax.tree.leaves(jax.device_get(state["params"]))
  state, hist = _run(method, data, state, 2)
  _RUNS[config_json] = before, jax.tree.leaves(jax.device_get(state["params"])), hist
  return _RUNS[config_json]


@pytest.mark.parametrize("name", PRESETS)
def test_preset_runs_two_steps_in_test_form(name):
  full, c = configs.load(name), configs.load(f"{name}:test")
  assert full.method == ("adaptive_imle" if name.startswith("adaimle_") else "imle")
  assert full.imle.adaptive == name.startswith("adaimle_") and full.batch_size == 4
  if not name.endswith("_cpu"):
    assert full.data.resolution == 256 and full.model.G.blocks == ig.OFFICIAL_BLOCKS_256
    assert full.imle.features == "lpips_vgg" and full.optim.G.name == "adamw"
  info = DataInfo(c.data.shots, (16, 16, 3), 0, c.batch_size)
  methods.build(c, info)  # the constructor validates the config (resolution, blocks, features, sampling)
  form = json.loads(c.to_json_best_effort())
  form.pop("method")
  before, after, hist = _two_steps(json.dumps(form, sort_keys=True), name)
  assert int(hist[0]["rounds"]) == 1
  assert any(not np.array_equal(a, b) for a, b in zip(before, after))
  assert all(np.isfinite(np.asarray(a)).all() for a in after)


def test_cpu_preset_trains_through_the_loop(tmp_path):
  c = configs.load("adaimle_panda100_cpu:test")
  c.devices, c.progress, c.total_steps = 1, False, 4
  result = train.train_and_evaluate(c, tmp_path)
  assert result.trace_counts == {"rematch": 1, "G": 1}  # 2 epochs, one re-match each: no retrace
  lines = [json.loads(l) for l in (tmp_path / "metrics.jsonl").read_text().splitlines()]
  assert [l["step"] for l in lines if "G/loss" in l] == [2, 4]
  assert all(np.isfinite(l["imle/d_mean"]) for l in lines if "imle/d_mean" in l)
  assert (tmp_path / "export" / "config.json").exists() and (tmp_path / "samples").is_dir()


def test_frozen_distance_weights_ride_in_the_state_and_stay_fixed():
  """LPIPS-AlexNet distance at 32 px: its weights are state["frozen"], untouched by a G step; G learns."""
  c = configs.load("adaimle_panda100_cpu:test")
  c.data.resolution = 32
  c.model.G.blocks = ig.blocks_for(32, 1)
  c.imle.features = "lpips_alex"
  method, data, state = _setup(c)
  frozen0 = jax.device_get(state["frozen"]["distance"])
  g0 = jax.device_get(state["params"]["G"])
  g_phase = next(p for p in method.phases() if p.name == "G")
  step = jax.jit(g_phase.fn)
  for i in range(2):  # the warm-up's learning rate is 0 at the first step
    state, metrics = step(state, data, jax.random.key(i))
  for a, b in zip(jax.tree.leaves(frozen0), jax.tree.leaves(jax.device_get(state["frozen"]["distance"]))):
    np.testing.assert_array_equal(a, b)
  moved = [float(np.abs(a - b).max()) for a, b in zip(jax.tree.leaves(g0), jax.tree.leaves(state["params"]["G"]))]
  assert max(moved) > 0 and all(np.isfinite(moved)) and float(metrics["G/loss"]) > 0


def test_warm_start_takes_the_prior_generator():
  c = configs.load("adaimle_panda100_cpu:test")
  method, data, state = _setup(c)
  prior = {"params": jax.tree.map(lambda x: np.asarray(x) + 1.0, jax.device_get(state["params"]))}
  warm = jax.jit(method.init)(jax.random.key(5), data, prior)
  for a, b in zip(jax.tree.leaves(warm["params"]["G"]), jax.tree.leaves(prior["params"]["G"])):
    np.testing.assert_array_equal(np.asarray(a), b)
