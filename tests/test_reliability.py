"""Faults a user meets (issue 18), each tested on the tiny quickstart: bad loop values and failed first runs
leave the workdir usable, damaged checkpoints fall back to the newest intact one, a workdir takes one
process at a time, a resume leaves no duplicate log rows, divergence stops like NaN, SIGTERM saves and
resumes bit-identically, and the launcher reports expected errors in one line."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments import configs
from fsgen import checkpoint, train, workdir
from fsgen.methods import gan
from fsgen.writer import read_records

from conftest import ROOT


def _config(**overrides):
  c = configs.load("quickstart:test")
  c.devices, c.progress, c.evals = 1, False, {}
  for k, v in overrides.items():  # top-level keys only
    c[k] = v
  return c


def _leaves_equal(a, b):
  la, lb = jax.tree.leaves(a), jax.tree.leaves(b)
  return len(la) == len(lb) and all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(la, lb))


def _rows(workdir_path):
  return [json.loads(l) for l in (workdir_path / "metrics.jsonl").read_text().splitlines()]


def _tensorboard_scalars(workdir_path):
  """[(tag, step)] of every scalar summary in the workdir's TensorBoard event files."""
  from tensorboardX.proto.event_pb2 import Event

  out = []
  for path in sorted((workdir_path / "tensorboard").glob("events.out.tfevents.*")):
    for payload in read_records(path):
      event = Event.FromString(payload)
      out += [(v.tag, event.step) for v in event.summary.value if v.HasField("simple_value")]
  return out


# ---- Config validation: one line naming key and value, before the workdir is touched ------------------


@pytest.mark.parametrize(
  "key, value, message",
  [
    ("batch_size", 0, "config.batch_size=0: must be a positive integer"),
    ("batch_size", -8, "config.batch_size=-8: must be a positive integer"),
    ("total_steps", 0, "config.total_steps=0 and config.total_epochs=0: this trains nothing"),
    ("log_every", 0, "config.log_every must be >= 1, got 0"),
    ("ckpt_every", -2, "config.ckpt_every must be >= 1, got -2"),
    ("num_samples", 0, "config.num_samples=0: must be a positive integer"),
    ("keep_ckpts", 0, "config.keep_ckpts=0: must be >= 1"),
    ("method", "ganx", "config.method='ganx': unknown method"),
    ("max_param_norm", -1.0, "config.max_param_norm=-1.0: must be a number >= 0"),
    ("evals", {"fid": {"type": "fdi", "every": 2}}, "config.evals.fid.type='fdi': unknown evaluator type"),
    ("evals", {"fid": {"type": "fid", "every": 0}}, "config.evals.fid.every must be >= 1, got 0"),
  ],
)
def test_bad_loop_value_fails_in_one_line_before_the_workdir_exists(tmp_path, key, value, message):
  with pytest.raises(ValueError) as e:
    train.train_and_evaluate(_config(**{key: value}), tmp_path / "w")
  assert str(e.value).startswith(message) and "\n" not in str(e.value)
  assert not (tmp_path / "w").exists()


def test_failed_first_run_never_blocks_the_corrected_one(tmp_path):
  w = tmp_path / "w"
  bad = _config()
  bad.data.source = f"folder:{tmp_path / 'no_such_folder'}"
  with pytest.raises(ValueError, match="no_such_folder does not exist"):
    train.train_and_evaluate(bad, w)
  assert not (w / "config.json").exists()
  # A config.json without checkpoints (a run killed while compiling) protects nothing either.
  (w / "config.json").write_text(json.dumps({**checkpoint.config_to_dict(_config()), "seed": 5}))
  result = train.train_and_evaluate(_config(total_steps=2), w)
  assert result.step == 2 and json.loads((w / "config.json").read_text())["seed"] == 0


def test_a_config_error_met_while_tracing_a_phase_writes_nothing(tmp_path):
  c = _config()
  c.gan.loss = "wgan"  # the gan method reads it inside its loss, i.e. when the phase is traced
  with pytest.raises(ValueError, match="unknown GAN loss 'wgan'"):
    train.train_and_evaluate(c, tmp_path)
  assert not (tmp_path / "config.json").exists() and not (tmp_path / "metrics.jsonl").exists()


def test_resume_with_a_bad_interval_changes_nothing(tmp_path):
  train.train_and_evaluate(_config(total_steps=2), tmp_path)
  before = (tmp_path / "config.json").read_text()
  with pytest.raises(ValueError, match="config.ckpt_every must be >= 1, got 0"):
    train.train_and_evaluate(_config(total_steps=4, ckpt_every=0), tmp_path)
  assert (tmp_path / "config.json").read_text() == before
  assert checkpoint.Checkpoints(tmp_path / "checkpoints").latest_step() == 2


# ---- Checkpoints: verified on restore, fall back to the newest intact step ---------------------------


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
  """An uninterrupted 6-step run with checkpoints at steps 2, 4 and 6."""
  path = tmp_path_factory.mktemp("straight")
  train.train_and_evaluate(_config(total_steps=6, ckpt_every=2, log_every=1), path)
  return path


def _largest_data_file(step_dir):
  files = [p for p in (step_dir / "state").rglob("*") if p.is_file() and p.parent.name == "d"]
  return max(files, key=lambda p: p.stat().st_size)


def damage(step_dir, kind):
  """Damages one checkpoint step in place, as a disk, a copy or a user would."""
  if kind == "delete":
    _largest_data_file(step_dir).unlink()
  elif kind == "truncate":
    path = _largest_data_file(step_dir)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
  elif kind == "metadata":
    (step_dir / "state" / "manifest.ocdbt").unlink()
  elif kind == "checksum":
    shutil.rmtree(step_dir / "checksum")
  elif kind == "flip":
    path = _largest_data_file(step_dir)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
  else:
    raise ValueError(kind)


def _killed_after_step_5(straight, tmp_path):
  """A copy of the straight run as a run killed at step 5 would leave it: checkpoints 2 and 4."""
  w = tmp_path / "w"
  shutil.copytree(straight, w)
  shutil.rmtree(w / "checkpoints" / "6")
  return w


@pytest.mark.parametrize("kind", ["delete", "truncate", "metadata", "checksum", "flip"])
def test_damaged_newest_checkpoint_falls_back_to_the_newest_intact_one(straight, tmp_path, kind, caplog):
  w = _killed_after_step_5(straight, tmp_path)
  damage(w / "checkpoints" / "4", kind)
  good, _ = checkpoint.restore_raw(straight, step=2)
  like = jax.tree.map(jnp.asarray, good)
  state, step = checkpoint.Checkpoints(w / "checkpoints").restore_intact(like)
  assert step == 2 and _leaves_equal(state, good)
  assert any("checkpoint step 4" in r.getMessage() and "is damaged" in r.getMessage() for r in caplog.records)
  assert sorted(p.name for p in (w / "checkpoints").iterdir()) == ["2"]
  assert (w / "checkpoints_damaged" / "4").is_dir()  # moved aside, not deleted


def test_resume_after_damage_equals_the_uninterrupted_run(straight, tmp_path):
  w = _killed_after_step_5(straight, tmp_path)
  damage(w / "checkpoints" / "4", "flip")  # restores without error: only the checksum catches it
  result = train.train_and_evaluate(_config(total_steps=6, ckpt_every=2, log_every=1), w)
  assert result.step == 6
  assert _leaves_equal(checkpoint.restore_raw(w)[0], checkpoint.restore_raw(straight)[0])


def test_no_intact_checkpoint_is_one_line_and_moves_nothing(straight, tmp_path):
  w = _killed_after_step_5(straight, tmp_path)
  damage(w / "checkpoints" / "4", "truncate")
  damage(w / "checkpoints" / "2", "checksum")
  with pytest.raises(checkpoint.DamagedCheckpointError, match=r"no intact checkpoint in .*step 4: .*; step 2: "):
    train.train_and_evaluate(_config(total_steps=6, ckpt_every=2, log_every=1), w)
  assert sorted(p.name for p in (w / "checkpoints").iterdir()) == ["2", "4"]


# ---- One process per workdir -------------------------------------------------------------------------


def test_second_process_on_a_workdir_is_refused(tmp_path):
  with workdir.Lock(tmp_path):
    with pytest.raises(workdir.WorkdirError, match=rf"workdir {tmp_path} is in use by process {os.getpid()} "):
      train.train_and_evaluate(_config(total_steps=2), tmp_path)
  assert not (tmp_path / "config.json").exists() and not (tmp_path / "checkpoints").exists()


def test_lock_left_by_a_dead_process_does_not_block(tmp_path):
  code = f"import os; from fsgen import workdir; workdir.Lock({str(tmp_path)!r}).acquire(); os._exit(0)"
  subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, timeout=60)
  dead = json.loads((tmp_path / "lock").read_text())["pid"]
  assert dead != os.getpid()
  with workdir.Lock(tmp_path):
    assert json.loads((tmp_path / "lock").read_text())["pid"] == os.getpid()


# ---- Logs after a resume: every step once ------------------------------------------------------------


def test_resume_drops_log_rows_past_the_restored_step(straight, tmp_path):
  w = _killed_after_step_5(straight, tmp_path)  # its logs hold steps 1-6, its checkpoints 2 and 4
  train.train_and_evaluate(_config(total_steps=6, ckpt_every=2, log_every=1), w)
  assert [r["step"] for r in _rows(w) if "G/adv" in r] == [1, 2, 3, 4, 5, 6]
  scalars = _tensorboard_scalars(w)
  assert len(scalars) == len(set(scalars)) and sorted(s for t, s in scalars if t == "G/adv") == [1, 2, 3, 4, 5, 6]


# ---- Divergence guard --------------------------------------------------------------------------------


def test_diverging_parameters_stop_like_non_finite_and_keep_the_last_good_checkpoint(tmp_path, monkeypatch):
  original = gan.Method.g_step

  def blown_up(self, state, data, key):  # finite, but the norm of a learning rate gone wild
    new, metrics = original(self, state, data, key)
    new["params"]["G"] = jax.tree.map(lambda p: jnp.where(state["step"] >= 3, p * 1e7, p), new["params"]["G"])
    return new, metrics

  monkeypatch.setattr(gan.Method, "g_step", blown_up)
  pattern = r"diverged at step 3 in phase 'G': parameter norm of G \S+ > max_param_norm=1e\+06; "
  with pytest.raises(train.DivergedError, match=pattern + "last good checkpoint: step 2 in "):
    train.train_and_evaluate(_config(total_steps=8, ckpt_every=2, log_every=4), tmp_path)
  assert checkpoint.Checkpoints(tmp_path / "checkpoints").latest_step() == 2
  state, _ = checkpoint.restore_raw(tmp_path)
  assert float(jnp.sqrt(sum(jnp.sum(x.astype(np.float64) ** 2) for x in jax.tree.leaves(state["params"]["G"])))) < 1e6


def test_gradient_norm_bound_stops_the_run(tmp_path):
  with pytest.raises(train.DivergedError, match=r"at step 0 in phase 'D': gradient norm \S+ > max_grad_norm=1e-09"):
    train.train_and_evaluate(_config(total_steps=2, max_grad_norm=1e-9), tmp_path)


# ---- Preemption: SIGTERM saves at the next step and the resume is bit-identical ------------------------

ENV = {**os.environ, "XLA_FLAGS": "", "JAX_PLATFORMS": "cpu"}  # one device, like a plain run


def _run_cmd(w, total, *extra):
  return [
    sys.executable,
    str(ROOT / "experiments" / "run.py"),
    "--config=quickstart:test",
    f"--workdir={w}",
    f"--config.total_steps={total}",
    "--config.ckpt_every=100",
    "--config.log_every=10",
    "--config.sample_every=1000",
    "--config.devices=1",
    "--config.progress=False",
    "--config.evals={}",
    *extra,
  ]


def test_sigterm_saves_at_the_next_step_and_resumes_bit_identically(tmp_path):
  total = 300
  quiet = dict(env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
  straight = subprocess.Popen(_run_cmd(tmp_path / "straight", total), **quiet)
  stopped = subprocess.Popen(_run_cmd(tmp_path / "stopped", total), **quiet)
  metrics = tmp_path / "stopped" / "metrics.jsonl"
  deadline = time.time() + 300
  while time.time() < deadline and stopped.poll() is None and not (metrics.exists() and metrics.read_text()):
    time.sleep(0.02)
  assert stopped.poll() is None, "the run ended before it could be stopped: raise total"
  stopped.send_signal(signal.SIGTERM)
  _, err = stopped.communicate(timeout=120)
  assert stopped.returncode == 143, err[-2000:]
  step = checkpoint.Checkpoints(tmp_path / "stopped" / "checkpoints").latest_step()
  assert 10 <= step < total and f"preempted: stopped by SIGTERM after step {step}: checkpoint saved" in err
  resumed = subprocess.run(_run_cmd(tmp_path / "stopped", total), env=ENV, capture_output=True, text=True, timeout=600)
  assert resumed.returncode == 0, resumed.stderr[-2000:]
  assert f"resumed from {tmp_path / 'stopped' / 'checkpoints'} at step {step}" in resumed.stderr
  assert straight.wait(timeout=600) == 0
  a, _ = checkpoint.restore_raw(tmp_path / "stopped")
  b, _ = checkpoint.restore_raw(tmp_path / "straight")
  assert int(a["step"]) == int(b["step"]) == total and _leaves_equal(a, b)
  steps = [r["step"] for r in _rows(tmp_path / "stopped") if "G/adv" in r]
  assert steps == list(range(10, total + 1, 10))


# ---- The launcher: one line per expected error, evaluators off from the command line ------------------


def _launch(*args, timeout=300):
  cmd = [sys.executable, str(ROOT / "experiments" / "run.py"), *args]
  out = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=timeout)
  # absl's own log lines start with a level letter and a date (I1201 21:31:32.7...); the rest is ours.
  lines = [l for l in out.stderr.splitlines() if l.strip() and not (l[:1] in "IWEF" and l[1:5].isdigit())]
  return out, lines


@pytest.mark.parametrize(
  "args, message",
  [
    (["--config.batch_size=0"], "error: config.batch_size=0: must be a positive integer"),
    (["--config.gan.lossx=hinge"], "error: --config.gan.lossx=hinge: unknown config key 'config.gan.lossx'"),
    (["--config.data.source=folder:/no/such/dir"], "error: image folder /no/such/dir does not exist"),
  ],
)
def test_launcher_prints_one_line_for_an_expected_error(tmp_path, args, message):
  out, lines = _launch("--config=quickstart:test", f"--workdir={tmp_path / 'w'}", *args)
  assert out.returncode == 1 and lines == [message + lines[0][len(message) :]] and lines[0].startswith(message)
  assert "Traceback" not in out.stderr and not (tmp_path / "w" / "config.json").exists()


def test_launcher_refuses_a_busy_workdir_in_one_line(tmp_path):
  with workdir.Lock(tmp_path):
    out, lines = _launch("--config=quickstart:test", f"--workdir={tmp_path}")
  assert out.returncode == 1 and len(lines) == 1 and f"is in use by process {os.getpid()}" in lines[0]


def test_an_evaluator_can_be_turned_off_from_the_command_line(tmp_path):
  out, _ = _launch("--config=quickstart:test", f"--workdir={tmp_path}", "--config.devices=1", "--config.evals.nn=None")
  assert out.returncode == 0, out.stderr[-2000:]
  assert json.loads((tmp_path / "config.json").read_text())["evals"] == {"nn": {}}
  rows = _rows(tmp_path)
  assert rows and not any(k.startswith("nn/") for r in rows for k in r)
