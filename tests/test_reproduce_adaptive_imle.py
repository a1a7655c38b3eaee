"""The Adaptive IMLE reproduction end to end at reduced size: model cells (training with the coverage curve,
then fsgen.metrics.evaluate), reference rows, resumable cells and the table."""

import json
import sys

import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "experiments" / "reproduce"))

import adaptive_imle as repro  # noqa: E402


@pytest.mark.slow  # ~2 min of CPU: Inception, LPIPS and two trainings compiled
def test_reproduction_runs_resumes_and_tabulates(tmp_path, capsys):
  args = ["--test", "--workdir", str(tmp_path), "--seeds", "0", "--variants", "imle,adaimle", "--n", "8"]
  args += ["--curve_n", "8", "--curve_every_epochs", "1", "--references", "noise_0.2,other_pandas"]
  repro.main(args)
  cells = tmp_path / "cells"
  ada = json.loads((cells / "adaimle_s0.json").read_text())
  assert ada["spec"] == "adaimle_panda100_cpu:test" and ada["steps"] == 2 and ada["curve"]
  assert set(ada["scores"]) == {"fid", "pr", "cov"} and ada["pools"] >= 1 and ada["rematched_total"] == 8
  ref = json.loads((cells / "reference_other_pandas_s0.json").read_text())
  assert ref["n"] == ref["n_ref"] == 4 and ref["scores"]["cov"]["cov_mean"] > 0
  assert json.loads((cells / "reference_noise_0.2_s0.json").read_text())["n"] == 40  # 5 noisy copies of 8
  table = (tmp_path / "table.md").read_text()
  assert "cells ran: 4 of" in table and "| adaimle (`adaimle_panda100_cpu:test`)" in table
  before = {p.name: p.stat().st_mtime for p in cells.iterdir()}
  repro.main(args)  # every cell is done: nothing recomputed
  assert {p.name: p.stat().st_mtime for p in cells.iterdir()} == before
