"""Every notebook in colab/ runs to the end at reduced size (its `parameters` cell with REDUCED = True)."""

import os
import pathlib

import pytest

from conftest import ROOT

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS = sorted((ROOT / "colab").glob("*.ipynb"))


def test_notebooks_are_built_from_colab_build_and_carry_no_outputs():
  for path in NOTEBOOKS:
    nb = nbformat.read(path, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), f"{path.name} has outputs"
    assert any("parameters" in c.metadata.get("tags", []) for c in nb.cells), f"{path.name}: no parameters cell"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_at_reduced_size(path, tmp_path):
  nb = nbformat.read(path, as_version=4)
  for cell in nb.cells:
    if "parameters" in cell.metadata.get("tags", []):
      cell.source += f'\nREDUCED = True\nWORKDIR = "{tmp_path / "run"}"'
  env = {**os.environ, "XLA_FLAGS": "", "PYTHONPATH": str(ROOT)}
  client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}})
  old = os.environ.copy()
  os.environ.update(env)
  try:
    client.execute()
  finally:
    os.environ.clear()
    os.environ.update(old)
  assert pathlib.Path(tmp_path / "run" / "export").exists()
