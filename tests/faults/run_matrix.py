"""Fault matrix for the launcher (issue 18), as a new user meets it; not collected by pytest.

  python tests/faults/run_matrix.py [--trials 10] [--total 300] [--out /tmp/fsgen_faults] [--only bad,kill,term]

bad:  every bad input below through experiments/run.py on the quickstart's reduced form: the run must
      exit non-zero with exactly one line `error: ...` naming the culprit (absl's log lines aside) and no
      traceback, write no config.json into a fresh workdir, and (for resume cases) leave the workdir's
      config and checkpoints as they were. Damaged checkpoints must resume (exit 0) from an older step.
kill: --trials runs, each SIGKILLed 1-3 times at random moments and re-run until it finishes; the final
      state must be bit-identical to an uninterrupted run, and metrics.jsonl must hold each step once.
term: --trials runs, each sent SIGTERM once at a random moment: exit 143 with a checkpoint at the step it
      names, then a resume to the end, bit-identical to the uninterrupted run.
Prints one line per case and the counts at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import random
import shutil
import signal
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

ENV = {**os.environ, "XLA_FLAGS": "", "JAX_PLATFORMS": "cpu"}
ENV.setdefault("JAX_COMPILATION_CACHE_DIR", "/tmp/fsgen-test-jax-cache")
BASE = ["--config=quickstart:test", "--config.devices=1", "--config.progress=False", "--config.evals={}"]

# (name, extra args, text the error line must contain)
BAD_INPUT = [
  ("batch_size=0", ["--config.batch_size=0"], "config.batch_size=0"),
  ("batch_size=-8", ["--config.batch_size=-8"], "config.batch_size=-8"),
  ("batch_size=abc", ["--config.batch_size=abc"], "--config.batch_size=abc"),
  ("devices=2 on one device", ["--config.devices=2"], "config.devices=2"),
  ("total_steps=0", ["--config.total_steps=0"], "config.total_steps=0"),
  ("total_steps=-5", ["--config.total_steps=-5"], "config.total_steps"),
  ("log_every=0", ["--config.log_every=0"], "config.log_every"),
  ("sample_every=-1", ["--config.sample_every=-1"], "config.sample_every"),
  ("ckpt_every=0", ["--config.ckpt_every=0"], "config.ckpt_every"),
  ("ckpt_every_epochs=-1", ["--config.ckpt_every_epochs=-1"], "config.ckpt_every_epochs"),
  ("total_steps and total_epochs", ["--config.total_epochs=2"], "config.total_epochs=2"),
  ("num_samples=0", ["--config.num_samples=0"], "config.num_samples=0"),
  ("keep_ckpts=0", ["--config.keep_ckpts=0"], "config.keep_ckpts=0"),
  ("devices=-1", ["--config.devices=-1"], "config.devices=-1"),
  ("devices=64", ["--config.devices=64"], "config.devices=64"),
  ("max_param_norm=-1", ["--config.max_param_norm=-1.0"], "config.max_param_norm"),
  ("unknown key", ["--config.totl_steps=5"], "config.totl_steps"),
  ("unknown nested key", ["--config.gan.lossx=hinge"], "config.gan.lossx"),
  ("unknown method", ["--config.method=ganx"], "ganx"),
  ("unknown loss", ["--config.gan.loss=wgan"], "wgan"),
  ("unknown evaluator type", ["--config.evals={'x': {'type': 'fdi', 'every': 2}}"], "config.evals.x.type='fdi'"),
  ("unknown evaluator", ["--config.evals.x.type=fdi"], "config.evals.x.type"),
  ("unknown preset", ["--config=quickstrat"], "quickstrat"),
  ("missing data folder", ["--config.data.source=folder:/no/such/dir"], "/no/such/dir"),
  ("empty data folder", ["--config.data.source=folder:{empty}"], "{empty}"),
  ("unknown data scheme", ["--config.data.source=ftp:x"], "ftp:x"),
  ("more shots than images", ["--config.data.shots=5000", "--config.data.per_class=False"], "5000"),
  ("init_from missing", ["--config.init_from=/no/such/workdir"], "/no/such/workdir"),
  ("non-finite learning rate", ["--config.optim.G.learning_rate=nan"], "non-finite"),
  ("diverging learning rate", ["--config.optim.G.learning_rate=1e5", "--config.gan.z_dim=128"], "diverged"),
]
# Cases on a workdir that already holds a run (4 steps, checkpoints at 2 and 4): (name, args, text, exit 0?)
RESUME = [
  ("ckpt_every=0 on resume", ["--config.ckpt_every=0", "--config.total_steps=6"], "config.ckpt_every", False),
  ("other seed on resume", ["--config.seed=5", "--config.total_steps=6"], "different config", False),
  ("busy workdir", ["--config.total_steps=6"], "is in use by process", False),
  ("newest checkpoint: data file deleted", ["--config.total_steps=6"], "delete", True),
  ("newest checkpoint: data file truncated", ["--config.total_steps=6"], "truncate", True),
  ("newest checkpoint: metadata removed", ["--config.total_steps=6"], "metadata", True),
  ("newest checkpoint: checksum removed", ["--config.total_steps=6"], "checksum", True),
  ("newest checkpoint: bytes flipped", ["--config.total_steps=6"], "flip", True),
  ("every checkpoint damaged", ["--config.total_steps=6"], "no intact checkpoint", False),
]


def launch(workdir, *args, timeout=900):
  cmd = [sys.executable, str(ROOT / "experiments" / "run.py"), f"--workdir={workdir}", *BASE, *args]
  out = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=timeout)
  ours = [l for l in out.stderr.splitlines() if l.strip() and not (l[:1] in "IWEF" and l[1:5].isdigit())]
  return out, ours


def one_line_error(out, ours, text) -> tuple[bool, str]:
  line = ours[0] if ours else ""
  ok = out.returncode == 1 and len(ours) == 1 and line.startswith("error: ") and text in line
  return ok and "Traceback" not in out.stderr, line or out.stderr[-300:].replace("\n", " | ")


def bad_inputs(out_dir: pathlib.Path) -> tuple[int, int]:
  from test_reliability import damage  # the same damage as the tests

  from fsgen import workdir as fsworkdir

  passed = total = 0
  empty = out_dir / "empty_folder"
  empty.mkdir(parents=True, exist_ok=True)
  for name, args, text in BAD_INPUT:
    args = [a.replace("{empty}", str(empty)) for a in args]
    w = out_dir / "bad" / name.replace(" ", "_").replace("=", "_")
    shutil.rmtree(w, ignore_errors=True)
    out, ours = launch(w, *args)
    ok, line = one_line_error(out, ours, text.replace("{empty}", str(empty)))
    nan_case = name in ("non-finite learning rate", "diverging learning rate")  # fail after training starts
    ok = ok and (nan_case or not (w / "config.json").exists())
    passed, total = passed + ok, total + 1
    print(f"{'PASS' if ok else 'FAIL'}  bad input: {name:32s} rc={out.returncode}  {line}", flush=True)
  reference = out_dir / "resume_reference"
  shutil.rmtree(reference, ignore_errors=True)
  launch(reference, "--config.total_steps=4", "--config.ckpt_every=2")
  for name, args, text, resumes in RESUME:
    w = out_dir / "resume" / name.split(":")[-1].strip().replace(" ", "_")
    shutil.rmtree(w, ignore_errors=True)
    shutil.copytree(reference, w)
    before = (w / "config.json").read_text(), sorted(p.name for p in (w / "checkpoints").iterdir())
    if resumes:
      damage(w / "checkpoints" / "4", text)
    elif text == "no intact checkpoint":
      damage(w / "checkpoints" / "4", "truncate")
      damage(w / "checkpoints" / "2", "flip")
    lock = fsworkdir.Lock(w).acquire() if name == "busy workdir" else None
    try:
      out, ours = launch(w, "--config.ckpt_every=2", *args)
    finally:
      if lock:
        lock.release()
    if resumes:
      warned = "checkpoint step 4" in out.stderr and "is damaged" in out.stderr
      ok = out.returncode == 0 and warned and "resumed from" in out.stderr and "at step 2" in out.stderr
      line = "resumed from step 2 after the warning" if ok else out.stderr[-300:].replace("\n", " | ")
    else:
      ok, line = one_line_error(out, ours, text)
      after = (w / "config.json").read_text(), sorted(p.name for p in (w / "checkpoints").iterdir())
      ok = ok and after == before
    passed, total = passed + ok, total + 1
    print(f"{'PASS' if ok else 'FAIL'}  resume: {name:40s} rc={out.returncode}  {line}", flush=True)
  return passed, total


def _cmd(w, total):
  return [
    sys.executable,
    str(ROOT / "experiments" / "run.py"),
    f"--workdir={w}",
    *BASE,
    f"--config.total_steps={total}",
    "--config.ckpt_every=20",
    "--config.log_every=10",
    "--config.sample_every=100000",
  ]


def _same_state(a, b) -> bool:
  import jax
  import numpy as np

  from fsgen import checkpoint

  sa, sb = checkpoint.restore_raw(a)[0], checkpoint.restore_raw(b)[0]
  la, lb = jax.tree.leaves(sa), jax.tree.leaves(sb)
  return len(la) == len(lb) and all(np.array_equal(x, y) for x, y in zip(la, lb))


def _duplicates(w) -> int:
  steps = [json.loads(l)["step"] for l in (w / "metrics.jsonl").read_text().splitlines()]
  return len(steps) - len(set(steps))


def _latest_checkpoint(w) -> int:
  steps = [int(p.name) for p in (w / "checkpoints").glob("*") if p.name.isdigit()]
  return max(steps, default=0)


def _wait_for_training(proc, w, base: int, deadline=900) -> bool:
  """Waits until the run has logged a step past `base` (its checkpoint at launch): training is under way."""
  metrics = w / "metrics.jsonl"
  t0 = time.time()
  while time.time() - t0 < deadline and proc.poll() is None:
    try:
      if any(json.loads(l)["step"] > base for l in metrics.read_text().splitlines() if l.strip()):
        return True
    except (OSError, ValueError, KeyError):
      pass
    time.sleep(0.05)
  return proc.poll() is None


def interrupted(out_dir: pathlib.Path, trials: int, total: int, sig: int, rng: random.Random) -> dict:
  reference = out_dir / "uninterrupted"
  if not (reference / "export").exists():
    shutil.rmtree(reference, ignore_errors=True)
    subprocess.run(_cmd(reference, total), env=ENV, capture_output=True, timeout=1800, check=True)
  counts = {"trials": 0, "signals": 0, "identical": 0, "duplicate_rows": 0, "clean_exits": 0}
  name = signal.Signals(sig).name
  for trial in range(trials):
    w = out_dir / f"{name.lower()}_{trial}"
    shutil.rmtree(w, ignore_errors=True)
    signals = 0
    for _ in range(rng.randint(1, 3) if sig == signal.SIGKILL else 1):
      base = _latest_checkpoint(w) if (w / "checkpoints").is_dir() else 0
      proc = subprocess.Popen(_cmd(w, total), env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
      if not _wait_for_training(proc, w, base):
        proc.wait()
        break
      time.sleep(rng.uniform(0.0, 6.0))
      if proc.poll() is not None:
        break
      proc.send_signal(sig)
      _, err = proc.communicate(timeout=300)
      signals += 1
      clean = proc.returncode == 143 and "preempted: stopped by SIGTERM" in err
      counts["clean_exits"] += sig == signal.SIGTERM and clean
    done = subprocess.run(_cmd(w, total), env=ENV, capture_output=True, text=True, timeout=1800)
    same = done.returncode == 0 and _same_state(w, reference)
    dups = _duplicates(w)
    counts["trials"] += 1
    counts["signals"] += signals
    counts["identical"] += same
    counts["duplicate_rows"] += dups
    print(f"{name} trial {trial}: {signals} signal(s), identical={same}, duplicate rows={dups}", flush=True)
  return counts


def main(argv=None) -> None:
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument("--trials", type=int, default=10)
  p.add_argument("--total", type=int, default=300, help="steps of each interrupted run")
  p.add_argument("--out", default="/tmp/fsgen_faults")
  p.add_argument("--only", default="bad,kill,term")
  p.add_argument("--seed", type=int, default=0)
  a = p.parse_args(argv)
  out_dir = pathlib.Path(a.out)
  out_dir.mkdir(parents=True, exist_ok=True)
  rng = random.Random(a.seed)
  parts = set(a.only.split(","))
  summary = []
  if "bad" in parts:
    passed, total = bad_inputs(out_dir)
    summary.append(f"bad input: {passed}/{total} cases behaved (one-line error and untouched workdir, or fallback)")
  if "kill" in parts:
    c = interrupted(out_dir, a.trials, a.total, signal.SIGKILL, rng)
    summary.append(
      f"SIGKILL: {c['identical']}/{c['trials']} runs ({c['signals']} kills) resumed bit-identical to an "
      f"uninterrupted run; {c['duplicate_rows']} duplicate metrics rows"
    )
  if "term" in parts:
    c = interrupted(out_dir, a.trials, a.total, signal.SIGTERM, rng)
    summary.append(
      f"SIGTERM: {c['clean_exits']}/{c['signals']} signals saved and exited with 143; {c['identical']}/{c['trials']} "
      f"runs resumed bit-identical; {c['duplicate_rows']} duplicate metrics rows"
    )
  print("\n".join(["", "== fault matrix ==", *summary]))


if __name__ == "__main__":
  main()
