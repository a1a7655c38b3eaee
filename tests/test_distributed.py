"""Multi-host for real: two processes on localhost (jax.distributed, gloo CPU collectives over loopback)
train the quickstart's reduced form to the parameters of one process with the same two-device mesh; only
process 0 writes metrics, TensorBoard, samples and the export; the Orbax checkpoint is written once and
restored by both processes when the run resumes."""

import json
import os
import socket
import subprocess
import sys

import jax
import numpy as np

from experiments import configs
from fsgen import checkpoint, train

from conftest import ROOT

TIMEOUT = 600  # seconds per launch; the processes are killed beyond it


def _cmd(workdir, total, *extra):
  return [
    sys.executable,
    str(ROOT / "experiments" / "run.py"),
    "--config=quickstart:test",
    f"--workdir={workdir}",
    f"--config.total_steps={total}",
    "--config.ckpt_every=4",
    "--config.log_every=2",
    "--config.sample_every=4",
    "--config.progress=False",
    *extra,
  ]


def _env(devices: int, **extra) -> dict:
  return {
    **os.environ,
    "JAX_PLATFORMS": "cpu",
    "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}",
    "JAX_DISABLE_MOST_OPTIMIZATIONS": "1",  # as in the test process (conftest), so both compile alike
    **extra,
  }


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def _two_processes(workdir, total):
  port = _free_port()
  procs = [
    subprocess.Popen(
      _cmd(workdir, total, "--config.distributed=True"),
      env=_env(1, JAX_COORDINATOR_ADDRESS=f"127.0.0.1:{port}", JAX_NUM_PROCESSES="2", JAX_PROCESS_ID=str(i)),
      stdout=subprocess.PIPE,
      stderr=subprocess.PIPE,
      text=True,
    )
    for i in range(2)
  ]
  try:
    outs = [p.communicate(timeout=TIMEOUT) for p in procs]
  finally:
    for p in procs:
      if p.poll() is None:
        p.kill()
  for i, (p, (_, err)) in enumerate(zip(procs, outs)):
    assert p.returncode == 0, f"process {i}: {err[-3000:]}"
  return outs


def _max_diff(a, b):
  pairs = zip(jax.tree.leaves(a), jax.tree.leaves(b))
  return max(float(np.max(np.abs(np.asarray(x) - np.asarray(y)))) for x, y in pairs)


def test_two_processes_train_like_one_and_resume_from_one_checkpoint(tmp_path):
  c = configs.load("quickstart:test")  # the reference: one process, the same 2-device mesh, the same schedule
  c.total_steps, c.ckpt_every, c.log_every, c.sample_every, c.progress, c.devices = 8, 4, 2, 4, False, 2
  train.train_and_evaluate(c, tmp_path / "one")
  two = tmp_path / "two"
  _two_processes(two, 4)
  outs = _two_processes(two, 8)  # resumes: both processes restore step 4
  assert all(f"resumed from {two / 'checkpoints'} at step 4" in err for _, err in outs)
  assert "done: 8 steps" in outs[0][0] and "done:" not in outs[1][0]

  a, _ = checkpoint.restore_raw(two)
  b, _ = checkpoint.restore_raw(tmp_path / "one")
  diff = _max_diff(a["params"], b["params"])
  print(f"max |params(2 processes) - params(1 process, 2 devices)| = {diff:.3g}")
  # Same mesh and batch split; the cross-device sum of two partial gradients is exact either way.
  assert int(a["step"]) == int(b["step"]) == 8 and diff <= 1e-6

  # Written once, by process 0: one metrics row per logged step, one grid per sample step, one export.
  rows = [json.loads(l) for l in (two / "metrics.jsonl").read_text().splitlines()]
  assert [r["step"] for r in rows if "G/adv" in r] == [2, 4, 6, 8]
  assert sorted(p.name for p in (two / "samples").iterdir()) == ["step_0000004.png", "step_0000008.png"]
  assert (two / "export" / "config.json").exists() and (two / "log.process_1.txt").exists()
  assert sorted(p.name for p in (two / "checkpoints").iterdir()) == ["4", "8"]
  assert len(json.loads((two / "provenance.json").read_text())["runs"]) == 2  # one entry per start, process 0's
