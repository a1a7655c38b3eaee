"""Writes the Colab notebooks of colab/ from the cell lists below: python colab/build.py

Each notebook opens with a cell that installs fsgen from the repository (skipped when it already runs
inside a checkout, as in CI), then a `parameters` cell (REDUCED = False; CI executes every notebook with
REDUCED = True, the preset's reduced `:test` form), then trains the method's CPU preset and shows its
sample grids (and, for sCOLA and LASIUM, the few-shot accuracy) inline. Committed notebooks carry no
outputs. tests/test_notebooks.py executes them.
"""

from __future__ import annotations

import pathlib

import nbformat

HERE = pathlib.Path(__file__).resolve().parent
REPOSITORY = "https://github.com/fsgen-dev/fsgen"  # where the notebooks clone fsgen from on Colab

INSTALL = f'''# Install fsgen from the repository (skipped inside a checkout, e.g. when CI runs this notebook).
import os, pathlib, subprocess, sys
if not pathlib.Path("experiments/configs").is_dir():
  if not pathlib.Path("fsgen/experiments").is_dir():
    subprocess.run(["git", "clone", "-q", "{REPOSITORY}", "fsgen"], check=True)
  os.chdir("fsgen")
  subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-e", "."], check=True)
sys.path.insert(0, os.getcwd())
!python -m fsgen.devices'''

SHOW = """from IPython.display import Image as Show, display
import pathlib
grids = sorted(pathlib.Path(WORKDIR, "samples").glob("*.png"))
print(f"{len(grids)} sample grids; the last:", grids[-1])
display(Show(filename=str(grids[-1]), width=512))"""


def train_cells(preset: str, full_note: str, overrides: str = "") -> list[str]:
  return [
    f'''# Parameters (CI sets REDUCED = True: the preset's reduced form, a few steps).
REDUCED = False
PRESET = "{preset}"
WORKDIR = "runs/colab_{preset}"''',
    f"""from experiments import configs
from fsgen import train

config = configs.load(PRESET + (":test" if REDUCED else ""))
config.progress = not REDUCED
{overrides}# {full_note}
result = train.train_and_evaluate(config, WORKDIR)
print(f"{{result.step}} steps in {{result.seconds:.0f}} s")""",
  ]


NOTEBOOKS = {
  "quickstart": (
    "# fsgen quickstart\n\nTrains the `gan` baseline on 10 handwritten digits (scikit-learn's bundled set, no "
    "download) and shows its samples. About 2.5 minutes on a Colab CPU; seconds on a GPU or TPU runtime.",
    train_cells("quickstart", "the full preset trains 2,000 steps") + [SHOW],
  ),
}


def build(name: str, intro: str, cells: list[str]) -> nbformat.NotebookNode:
  nb = nbformat.v4.new_notebook()
  nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
  nb.metadata["colab"] = {"provenance": []}
  nb.cells = [nbformat.v4.new_markdown_cell(intro), nbformat.v4.new_code_cell(INSTALL)]
  for i, src in enumerate(cells):
    cell = nbformat.v4.new_code_cell(src)
    if i == 0:
      cell.metadata["tags"] = ["parameters"]
    nb.cells.append(cell)
  for i, c in enumerate(nb.cells):
    c["id"] = f"{name}-{i}"
  return nb


def main() -> None:
  for name, (intro, cells) in NOTEBOOKS.items():
    path = HERE / f"{name}.ipynb"
    nbformat.write(build(name, intro, cells), path)
    print(path)


if __name__ == "__main__":
  main()
