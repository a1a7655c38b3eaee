"""Presets and the launcher: name resolution, args, overrides, errors; every preset runs at reduced size."""

import json
import os
import subprocess
import sys

import pytest

from experiments import configs
from fsgen import train

from conftest import ROOT

RUN = [sys.executable, str(ROOT / "experiments" / "run.py")]


def _run(*args, timeout=300):
  env = {**os.environ, "XLA_FLAGS": ""}
  return subprocess.run(RUN + list(args), capture_output=True, text=True, timeout=timeout, env=env)


def test_resolve_name_and_path():
  path = configs.resolve("quickstart:test")
  assert path.endswith("experiments/configs/quickstart.py:test")
  assert configs.resolve(path) == path
  assert configs.load(path).total_steps == configs.load("quickstart:test").total_steps == 4


def test_unknown_name_lists_available():
  with pytest.raises(ValueError, match=r"unknown config 'nope'; available: .*quickstart"):
    configs.resolve("nope")


def test_parse_arg_types_and_errors():
  a = configs.parse_arg("test,shots=5,name=x", test=False, shots=10, name="a")
  assert a.test is True and a.shots == 5 and a.name == "x"
  with pytest.raises(ValueError, match="unknown preset argument 'bogus'"):
    configs.parse_arg("bogus", test=False)


def test_launcher_unknown_config_name():
  r = _run("--config=nope")
  assert r.returncode != 0 and "unknown config 'nope'; available:" in r.stderr and "quickstart" in r.stderr


def test_launcher_unknown_override_key(tmp_path):
  r = _run("--config=quickstart:test", "--config.no_such_key=1", f"--workdir={tmp_path}")
  assert r.returncode != 0 and "no_such_key" in r.stderr
  assert not (tmp_path / "checkpoints").exists()  # nothing was started


def test_launcher_path_arg_and_override(tmp_path):
  path = ROOT / "experiments" / "configs" / "quickstart.py"
  r = _run(
    f"--config={path}:test",
    "--config.total_steps=2",
    "--config.progress=False",
    "--config.evals={}",
    f"--workdir={tmp_path}",
  )
  assert r.returncode == 0, r.stderr[-3000:]
  saved = json.loads((tmp_path / "config.json").read_text())
  assert saved["total_steps"] == 2 and saved["model"]["G"]["width"] == 8
  assert "devices:" in r.stderr  # the console: fsgen's own lines
  assert '"total_steps": 2' in (tmp_path / "log.txt").read_text()  # the resolved config: the workdir's log only
  assert (tmp_path / "samples" / "step_0000002.png").exists()


# Presets whose own test file already runs them through the loop at reduced size, with stronger checks.
COVERED_ELSEWHERE = ("mixdl_", "lasium_")  # tests/test_mixdl_presets.py, tests/test_lasium_presets.py


@pytest.mark.parametrize("name", [n for n in configs.available() if not n.startswith(COVERED_ELSEWHERE)])
def test_every_preset_runs_two_steps_at_reduced_size(name, tmp_path):
  c = configs.load(f"{name}:test")
  c.total_steps = 2
  c.devices = 1
  c.progress = False
  c.evals = {}
  result = train.train_and_evaluate(c, tmp_path)
  assert int(result.state["step"]) == 2
  assert all(v == 1 for v in result.trace_counts.values())
  # No phase compiles twice; a phase whose first step lies past step 2 (an epoch-end phase) compiles 0 times.
  assert all(v <= 1 for v in result.compile_counts.values()) and sum(result.compile_counts.values()) >= 1
