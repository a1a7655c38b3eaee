"""experiments/reproduce/lasium.py runs its whole path at reduced size: the GAN stage, a LASIUM row that
loads it through init_from, the training-from-scratch row, evaluation on the fixed novel-alphabet tasks
through fsgen.metrics.evaluate, resumable cells and a table that marks the cells that did not run."""

import importlib.util
import json
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _reproduction():
  spec = importlib.util.spec_from_file_location("repro_lasium", ROOT / "experiments/reproduce/lasium.py")
  repro = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(repro)
  return repro


def test_rows_run_most_telling_first():
  assert list(_reproduction().ROWS)[:4] == ["scratch", "ro_gan_maml", "untrained_gan", "supervised_maml"]


def test_reproduction_runs_its_whole_path_at_reduced_size(tmp_path, monkeypatch):
  from conftest import shared_path

  shared_path("omniglot", "images_background_small2.zip")
  repro = _reproduction()
  args = ["--root", str(tmp_path), "--seeds", "0", "--rows", "scratch,ro_gan_maml", "--reduced"]
  repro.main([*args, "--steps", "2", "--n_tasks", "3"])
  gan = json.loads((tmp_path / "cells" / "gan.json").read_text())
  assert gan["steps"] == 2
  for row in ("scratch", "ro_gan_maml"):
    cell = json.loads((tmp_path / "cells" / f"{row}_seed0.json").read_text())
    assert cell["train"]["steps"] == (0 if row == "scratch" else 2)
    for k in (1, 5):
      accs = cell[f"{k}shot"]["task_accuracies"]
      assert len(accs) == 3 and all(0.0 <= a <= 1.0 for a in accs)
      assert cell[f"{k}shot"]["accuracy"] == pytest.approx(sum(accs) / 3, abs=1e-3)
  # The LASIUM row's learner was meta-trained on tasks of the stage-1 GAN, loaded through init_from.
  config = json.loads((tmp_path / "ro_gan_maml" / "seed0" / "config.json").read_text())
  assert config["init_from"] == str(tmp_path / "gan") and not config["lasium"]["untrained_generator"]
  assert (tmp_path / "episodes_1shot.json").exists()

  # A re-run reads every finished cell back: nothing trains again.
  monkeypatch.setattr(repro, "_train", lambda *a, **k: pytest.fail("a finished cell was recomputed"))
  repro.main([*args, "--steps", "2", "--n_tasks", "3"])
  # A table over more seeds and rows says which did not run.
  repro.main(["--root", str(tmp_path), "--seeds", "0,1", "--rows", "scratch,untrained_gan", "--table_only"])
  text = (tmp_path / "table.md").read_text()
  assert "Cells ran: 1 of 4" in text
  assert "Training from scratch (no meta-training) (seeds 1 not run)" in text
  untrained = next(line for line in text.splitlines() if line.startswith("| LASIUM-RO-MAML, untrained"))
  assert untrained.count("not run") == 5
  assert text.startswith("Command: `python experiments/reproduce/lasium.py --root")
