"""The library's layering: fsgen never imports experiments, never reads paths beside the checkout, and
its modules stay small (one job each; the 400-line budget of the structure issue)."""

import ast

import pytest

from conftest import ROOT

LIBRARY = sorted((ROOT / "fsgen").rglob("*.py"))
MAX_LINES = 400


@pytest.mark.parametrize("path", LIBRARY, ids=[str(p.relative_to(ROOT)) for p in LIBRARY])
def test_library_module_does_not_reach_outside_the_package(path):
  tree = ast.parse(path.read_text())
  for node in ast.walk(tree):
    if isinstance(node, ast.Import):
      names = [a.name for a in node.names]
    elif isinstance(node, ast.ImportFrom):
      names = [node.module or ""]
    else:
      names = []
    assert not any(n == "experiments" or n.startswith("experiments.") for n in names), f"{path}: imports {names}"
  text = path.read_text()
  assert "shared/data" not in text.replace("../shared/data", ""), f"{path}: refers to the shared datasets"
  assert '"experiments"' not in text and "'experiments'" not in text, f"{path}: names the experiments folder"
  assert ".parents[" not in text, f"{path}: walks up from its own file (a path relative to the checkout)"


def test_library_modules_stay_small():
  sizes = {str(p.relative_to(ROOT)): len(p.read_text().splitlines()) for p in LIBRARY}
  big = {k: v for k, v in sizes.items() if v > MAX_LINES}
  assert not big, f"modules over {MAX_LINES} lines: {big}"
