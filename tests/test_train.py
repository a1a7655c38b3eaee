"""The training loop end to end on the tiny quickstart: outputs, compile counts, phase isolation,
non-finite detection, checkpoints (restore = save, resume after SIGKILL = uninterrupted), 1 vs 4 devices,
export and `fsgen.sample`."""

import json
import os
import signal
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments import configs
from fsgen import checkpoint, methods, train
from fsgen import data as fsdata
from fsgen.data.info import DataInfo
from fsgen.methods import gan

from conftest import ROOT


def _tiny_config(**overrides):
  c = configs.load("quickstart:test")
  c.devices = 1
  c.progress = False
  c.gan.r1_gamma = 1.0
  c.gan.r1_every = 2
  for k, v in overrides.items():  # top-level keys only
    c[k] = v
  return c


def _leaves_equal(a, b):
  la, lb = jax.tree.leaves(a), jax.tree.leaves(b)
  return len(la) == len(lb) and all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(la, lb))


def test_end_to_end_outputs_and_single_compilation(tmp_path):
  c = _tiny_config(total_steps=6)
  result = train.train_and_evaluate(c, tmp_path)
  # Each phase traced and compiled exactly once over 6 steps (no recompilation inside the loop).
  assert result.trace_counts == {"D": 1, "D_r1": 1, "G": 1}
  assert result.compile_counts == {"D": 1, "D_r1": 1, "G": 1}
  lines = [json.loads(l) for l in (tmp_path / "metrics.jsonl").read_text().splitlines()]
  steps = [l["step"] for l in lines if "D/adv" in l]
  assert steps == [2, 4, 6] and all(np.isfinite(l["G/adv"]) for l in lines if "G/adv" in l)
  # D and D_r1 both emit D/grad_norm: D_r1's copy is logged under its phase's name, neither is lost.
  assert result.log_names["D_r1"] == {"D/r1": "D/r1", "D/grad_norm": "D_r1/D/grad_norm"}
  assert result.log_names["D"]["D/grad_norm"] == "D/grad_norm"
  assert all(l["D/grad_norm"] != l["D_r1/D/grad_norm"] for l in lines if "D/adv" in l)
  assert any("nn/distinct_nn" in l for l in lines)
  assert list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))
  assert sorted(p.name for p in (tmp_path / "samples").glob("*.png")) == [
    "step_0000002.png",
    "step_0000004.png",
    "step_0000006.png",
  ]
  assert checkpoint.Checkpoints(tmp_path / "checkpoints").latest_step() == 6
  assert json.loads((tmp_path / "subset.json").read_text())["indices"]
  assert (tmp_path / "export" / "config.json").exists()
  assert int(result.state["step"]) == 6


def _phase(method, name):
  return next(p for p in method.phases() if p.name == name)


def test_phases_update_only_their_network():
  c = _tiny_config()
  ds = fsdata.load(c.data)
  data = {"images": jnp.asarray(ds.images)}
  method = gan.Method(c, DataInfo.of(ds, c.batch_size))
  state = method.init(jax.random.key(0), data)
  for name, trained, frozen in [("D", "D", "G"), ("D_r1", "D", "G"), ("G", "G", "D")]:
    new, metrics = jax.jit(_phase(method, name).fn)(state, data, jax.random.key(1))
    assert not _leaves_equal(new["params"][trained], state["params"][trained]), name
    assert _leaves_equal(new["params"][frozen], state["params"][frozen]), name
    assert _leaves_equal(new["opt"][frozen], state["opt"][frozen]), name
    assert int(new["opt"][trained][0].count) == 1 and int(state["opt"][trained][0].count) == 0
    norm = float(metrics[f"{trained}/grad_norm"])
    assert np.isfinite(norm) and norm > 0


def test_nonfinite_loss_stops_with_step_and_phase_and_keeps_last_good_checkpoint(tmp_path, monkeypatch):
  original = gan.Method.g_step

  def poisoned(self, state, data, key):
    new, metrics = original(self, state, data, key)
    bad = state["step"] >= 3
    new["params"]["G"] = jax.tree.map(lambda p: jnp.where(bad, jnp.nan, p), new["params"]["G"])
    return new, metrics

  monkeypatch.setattr(gan.Method, "g_step", poisoned)
  c = _tiny_config(total_steps=8, ckpt_every=2, log_every=1)
  with pytest.raises(train.NonFiniteError, match=r"at step 3 in phase 'G'; last good checkpoint: step 2 in "):
    train.train_and_evaluate(c, tmp_path)
  ckpts = checkpoint.Checkpoints(tmp_path / "checkpoints")
  assert ckpts.latest_step() == 2  # step 4's checkpoint would have held the NaN parameters
  state, _ = checkpoint.restore_raw(tmp_path)
  assert all(np.all(np.isfinite(x)) for x in jax.tree.leaves(state["params"]))


def test_restore_equals_save(tmp_path):
  c = _tiny_config()
  ds = fsdata.load(c.data)
  method = gan.Method(c, DataInfo.of(ds, c.batch_size))
  state = method.init(jax.random.key(0), {"images": jnp.asarray(ds.images)})
  state, _ = jax.jit(_phase(method, "G").fn)(state, {"images": jnp.asarray(ds.images)}, jax.random.key(1))
  ckpts = checkpoint.Checkpoints(tmp_path)
  ckpts.save(1, state, c)
  ckpts.wait()
  zeros = jax.tree.map(jnp.zeros_like, state)
  restored = ckpts.restore(zeros)
  assert jax.tree.structure(restored) == jax.tree.structure(state)
  assert _leaves_equal(restored, state)


def test_workdir_with_other_config_is_refused(tmp_path):
  train.train_and_evaluate(_tiny_config(total_steps=2), tmp_path)
  before = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
  with pytest.raises(ValueError, match="holds checkpoints of a run with a different config .keys: seed."):
    train.train_and_evaluate(_tiny_config(total_steps=2, seed=5), tmp_path)
  assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == before


def test_one_device_equals_four(tmp_path):
  """Same steps on a 1-device and a 4-device mesh: equal params up to float reduction order."""
  assert jax.device_count() >= 4
  r1 = train.train_and_evaluate(_tiny_config(total_steps=5, devices=1), tmp_path / "one")
  r4 = train.train_and_evaluate(_tiny_config(total_steps=5, devices=4), tmp_path / "four")
  diffs = [
    np.max(np.abs(np.asarray(a) - np.asarray(b)))
    for a, b in zip(jax.tree.leaves(r1.state["params"]), jax.tree.leaves(r4.state["params"]))
  ]
  print("max |params(1 device) - params(4 devices)| =", max(diffs))
  # Reduction order differs across devices; Adam normalises the noise, so it bounds each update by lr = 2e-4.
  assert max(diffs) < 1e-4
  assert r4.state["params"]["G"]["Dense_0"]["kernel"].sharding.num_devices == 4


def test_batches_are_sharded_over_the_data_axis():
  from fsgen.data.batches import draw
  from fsgen.parallel import make_mesh, replicated

  mesh = make_mesh(4)
  with jax.set_mesh(mesh):
    images = jax.device_put(jnp.zeros((10, 8, 8, 1), jnp.uint8), replicated(mesh))
    batch = jax.jit(lambda k, x: draw(k, x, 8))(jax.random.key(0), images)
  assert batch.sharding.spec == jax.sharding.PartitionSpec("data")
  assert len(batch.addressable_shards) == 4 and batch.addressable_shards[0].data.shape[0] == 2


def _run_cmd(workdir, total):
  return [
    sys.executable,
    str(ROOT / "experiments" / "run.py"),
    "--config=quickstart:test",
    f"--workdir={workdir}",
    f"--config.total_steps={total}",
    "--config.ckpt_every=20",
    "--config.sample_every=1000",
    "--config.log_every=20",
    "--config.devices=1",
    "--config.progress=False",
    "--config.evals={}",
  ]


def test_resume_after_sigkill_equals_uninterrupted_run(tmp_path):
  env = {**os.environ, "XLA_FLAGS": "", "JAX_PLATFORMS": "cpu"}  # one device, like a plain run
  total = 600
  straight = subprocess.Popen(
    _run_cmd(tmp_path / "straight", total), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
  )
  killed = subprocess.Popen(
    _run_cmd(tmp_path / "killed", total), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
  )
  ckpt_dir = tmp_path / "killed" / "checkpoints"
  deadline = time.time() + 300
  while time.time() < deadline and killed.poll() is None:
    if (ckpt_dir / "40").is_dir():
      break
    time.sleep(0.02)
  assert killed.poll() is None, "the run finished before it could be killed; raise total"
  os.kill(killed.pid, signal.SIGKILL)
  killed.wait()
  steps_at_kill = checkpoint.Checkpoints(ckpt_dir).latest_step()
  assert 40 <= steps_at_kill < total
  resumed = subprocess.run(_run_cmd(tmp_path / "killed", total), env=env, capture_output=True, text=True)
  assert resumed.returncode == 0, resumed.stderr[-2000:]
  assert "resumed from" in resumed.stderr
  assert straight.wait() == 0
  a, _ = checkpoint.restore_raw(tmp_path / "killed")
  b, _ = checkpoint.restore_raw(tmp_path / "straight")
  assert int(a["step"]) == int(b["step"]) == total
  assert _leaves_equal(a, b)


def test_export_and_sample_cli(tmp_path):
  from fsgen import sample as sample_mod

  c = _tiny_config(total_steps=2)
  result = train.train_and_evaluate(c, tmp_path)
  out = tmp_path / "grid.png"
  sample_mod.main(["--workdir", str(tmp_path), "--n", "9", "--out", str(out)])
  from PIL import Image

  assert Image.open(out).size == (3 * 32 + 4 * 2, 3 * 32 + 4 * 2)
  # The export holds exactly the EMA generator, and sampling from it matches the trained state.
  params, config = checkpoint.load_export(tmp_path / "export")
  assert set(params) == {"G"} and config["method"] == "gan"
  method = methods.build(c, DataInfo.read(tmp_path / "data_info.json"))
  ref = method.sample(method.sampling_params(result.state), jax.random.key(0), 9)
  np.testing.assert_allclose(sample_mod.sample(export=str(tmp_path / "export"), n=9, seed=0), ref, atol=1e-6)
  # --out-dir: n individual PNGs, drawn a batch at a time.
  sample_mod.main(["--workdir", str(tmp_path), "--n", "5", "--batch", "2", "--out-dir", str(tmp_path / "pngs")])
  pngs = sorted((tmp_path / "pngs").glob("*.png"))
  assert [p.name for p in pngs] == [f"{i:06d}.png" for i in range(5)]
  arrays = [np.asarray(Image.open(p)) for p in pngs]
  assert all(a.shape == (32, 32) for a in arrays) and len({a.tobytes() for a in arrays}) == 5
  # Without the export it falls back to the latest checkpoint.
  import shutil

  shutil.rmtree(tmp_path / "export")
  np.testing.assert_allclose(sample_mod.sample(workdir=str(tmp_path), n=9, seed=0), ref, atol=1e-6)


def test_every_phase_metric_of_a_mixdl_step_reaches_the_logs(tmp_path):
  """Phases that emit the same name (G/grad_norm of G, G_mix and G_pl; D/grad_norm of D, D_mix and D_r1)
  are logged under distinct names: each (phase, metric) of one MixDL step is in metrics.jsonl and
  TensorBoard. What a phase emits is read from the method interface, not from mixdl's internals."""
  from fsgen.writer import read_records

  from conftest import shared_path

  shared_path("panda100")
  c = configs.load("mixdl_panda10_cpu:test")  # 2 steps: step 0 runs the mixup, R1 and PL phases, step 1 the rest
  c.devices, c.progress = 1, False
  result = train.train_and_evaluate(c, tmp_path)
  ds = fsdata.load(c.data)
  data = {"images": jnp.asarray(ds.images)}
  method = methods.build(c, DataInfo.of(ds, c.batch_size))
  state = jax.eval_shape(lambda k: train.initial_state(method, k, data), jax.random.key(0))
  emitted = {p.name: set(jax.eval_shape(p.fn, state, data, jax.random.key(1))[1]) for p in method.phases()}
  assert {p: set(names) for p, names in result.log_names.items()} == emitted
  logged = [name for names in result.log_names.values() for name in names.values()]
  assert len(logged) == len(set(logged)) == sum(len(m) for m in emitted.values())
  last = [json.loads(l) for l in (tmp_path / "metrics.jsonl").read_text().splitlines()][-1]
  assert last["step"] == 2 and all(np.isfinite(last[name]) for name in logged)
  assert last["G/grad_norm"] != last["G_mix/G/grad_norm"] != last["G_pl/G/grad_norm"]
  from tensorboardX.proto.event_pb2 import Event

  tags = {
    v.tag
    for path in (tmp_path / "tensorboard").glob("events.out.tfevents.*")
    for payload in read_records(path)
    for v in Event.FromString(payload).summary.value
  }
  assert set(logged) <= tags


def test_ema_rampup_starts_at_the_weights_and_reaches_the_decay():
  from fsgen.update import ema_rampup_decay

  decay_at = ema_rampup_decay(0.999, 0.05)
  assert float(decay_at(jnp.int32(0))) == 0.0  # the EMA starts as the weights
  np.testing.assert_allclose(float(decay_at(jnp.int32(10))), 0.25, rtol=1e-6)  # half-life 0.5 steps
  np.testing.assert_allclose(float(decay_at(jnp.int32(100_000))), 0.999, rtol=1e-7)
  with pytest.raises(ValueError, match="rampup > 0"):
    ema_rampup_decay(0.999, 0.0)


def test_gan_ema_rampup_follows_the_weights_early_and_compiles_once(tmp_path):
  """gan.ema_rampup: over 3 steps the ramped EMA stays within a decay of ~1e-3 of G (the constant 0.999
  EMA stays near G's initial weights); the step-dependent decay is traced, so G compiles once."""
  gaps = {}
  for rampup in (0.0, 0.05):
    c = _tiny_config(total_steps=3)
    c.gan.ema_rampup = rampup
    result = train.train_and_evaluate(c, tmp_path / str(rampup))
    assert result.compile_counts["G"] == 1
    g, ema = result.state["params"]["G"], result.state["ema"]["G"]
    diff = sum(float(jnp.sum((a - b) ** 2)) for a, b in zip(jax.tree.leaves(g), jax.tree.leaves(ema)))
    gaps[rampup] = diff**0.5
  assert gaps[0.05] < 0.01 * gaps[0.0] and gaps[0.0] > 0
