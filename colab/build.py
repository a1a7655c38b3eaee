"""Writes the Colab notebooks of colab/ from the cell lists below: python colab/build.py

Each notebook opens with a cell that installs fsgen from the repository (skipped when it already runs
inside a checkout, as in CI), then a `parameters` cell (REDUCED = False; CI executes every notebook with
REDUCED = True, the preset's reduced `:test` form), then trains the method's CPU preset and shows its
sample grids (and, for sCOLA and LASIUM, the few-shot accuracy) inline. Committed notebooks carry no
outputs. tests/test_notebooks.py executes them.
"""

from __future__ import annotations

import pathlib
import subprocess
import sys

import nbformat

HERE = pathlib.Path(__file__).resolve().parent
REPOSITORY = "https://github.com/fsgen-dev/fsgen"  # where the notebooks clone fsgen from on Colab

INSTALL = f'''# Install fsgen from the repository (skipped inside a checkout, e.g. when CI runs this notebook).
import os
import pathlib
import subprocess
import sys

if not pathlib.Path("experiments/configs").is_dir():
  if not pathlib.Path("fsgen/experiments").is_dir():
    subprocess.run(["git", "clone", "-q", "{REPOSITORY}", "fsgen"], check=True)
  os.chdir("fsgen")
  subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-e", "."], check=True)
sys.path.insert(0, os.getcwd())
!python -m fsgen.devices'''

SHOW = """import pathlib

from IPython.display import Image as Show
from IPython.display import display

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


AUGINTAE_SEEDS = """# Few-shot generation of a NOVEL class: 6 seed images of an Omniglot character the model never saw.
import jax
import numpy as np
from PIL import Image

from experiments.configs import shared_data
from fsgen import data as fsdata
from fsgen.data.preprocess import to_float
from fsgen.grid import make_grid
from fsgen.sample import load_sampler

method, params = load_sampler(WORKDIR)
if REDUCED:  # the reduced form trains on digits: any 6 of them
  seeds = to_float(fsdata.load(config.data).images[:6])
else:  # a character of small2's Sanskrit/Tagalog/Katakana alphabets, none of which small1 holds
  novel = fsdata.load(dict(source="omniglot:" + str(shared_data("omniglot", "images_background_small2.zip")),
                           resolution=28, channels=1, labels=True))
  seeds = to_float(novel.images[novel.labels == novel.labels[-1]][:6])
images = method.generate(params, jax.random.key(0), seeds, n=30)
grid = make_grid(np.concatenate([np.asarray(seeds), np.asarray(images)]), nrow=6)
Image.fromarray(grid[..., 0]).resize((grid.shape[1] * 4, grid.shape[0] * 4), Image.NEAREST)"""

SCOLA_ACCURACY = """# The small-sample protocol (appendix B.3): ResNet-20s trained on the real k-per-class subset and on
# Mix (half real, half sCOLA-generated per batch), each tested on Fashion-MNIST's 10,000 t10k images.
import jax

from fsgen import data as fsdata
from fsgen import metrics
from fsgen.metrics import small_sample
from fsgen.sample import load_sampler

method, params = load_sampler(WORKDIR)
reference = small_sample.test_data_config(config.data, config.classify.test_source)
ev = small_sample.Evaluator(fsdata.load(config.data), reference, modes=("real", "mix"), **config.classify)
scores = metrics.evaluate(metrics.Samplers(method, {"acc": ev}), {"acc": ev}, params, jax.random.key(0))["acc"]
print({mode: round(accuracy, 4) for mode, accuracy in scores.items()})"""

LASIUM_CHAIN = """# LASIUM step 2: MAML meta-trained on tasks sampled in the latent space of the generator above
# (LASIUM-RO-GAN), then tested on 5-way 1-shot tasks of alphabets the generator never saw.
import json

from experiments import eval as eval_script

META = WORKDIR + "_maml"
meta = configs.load("lasium_omniglot_cpu" + (":test" if REDUCED else ""))
meta.progress, meta.init_from = not REDUCED, WORKDIR
if REDUCED:
  meta.lasium.untrained_generator, meta.generator.width = False, config.model.G.width
result = train.train_and_evaluate(meta, META)
out = eval_script.evaluate(META, ["episodes"], sets={"episodes": {"n_tasks": 4 if REDUCED else 1000}})
print(json.dumps(out, indent=1))"""

NOTEBOOKS = {
  "quickstart": (
    "# fsgen quickstart\n\nTrains the `gan` baseline on 10 handwritten digits (scikit-learn's bundled set, no "
    "download) and shows its samples. About 2.5 minutes on a Colab CPU; seconds on a GPU or TPU runtime.",
    train_cells("quickstart", "the full preset trains 2,000 steps") + [SHOW],
  ),
  "mixdl": (
    "# MixDL: Dirichlet-mixup distance learning for 10-shot GANs\n\nTrains MixDL on a light StyleGAN2 at 32 px "
    "on 10 pandas (`mixdl_panda10_cpu`; needs the shared datasets, or point `config.data.source` at your own "
    "10 images) and shows its samples. Its plain twin is `mixdl_panda10_cpu_nomixdl`.",
    train_cells("mixdl_panda10_cpu", "about 25 minutes on a 2-core CPU; a GPU runtime is much faster") + [SHOW],
  ),
  "adaptive_imle": (
    "# Adaptive IMLE on 100-shot Panda\n\nTrains Adaptive IMLE (`adaimle_panda100_cpu`; plain IMLE is "
    "`imle_panda100_cpu`) and shows its samples. The coverage of the training set is logged as imle/d_mean.",
    train_cells("adaimle_panda100_cpu", "at most 30 minutes on a 2-core CPU") + [SHOW],
  ),
  "augintae": (
    "# AugIntAE: novel classes from a few seeds\n\nTrains the augmentation-interpolative autoencoder on 5 "
    "Omniglot alphabets (`augintae_omniglot_cpu`; baselines `intae_omniglot_cpu`, `ae_omniglot_cpu`), then "
    "generates a character of an unseen alphabet from 6 seed images (top row: seeds).",
    train_cells("augintae_omniglot_cpu", "about 50 minutes on a 2-core CPU") + [SHOW, AUGINTAE_SEEDS],
  ),
  "scola": (
    "# sCOLA: a few labelled images per class, and more of them\n\nTrains sCOLA on 5 Fashion-MNIST images per "
    "class (`scola_fmnist_5spc_cpu`; also 10 and 20), shows its per-class samples, then runs the paper's "
    "small-sample protocol: a classifier on the real images alone and one on real + generated (Mix).",
    train_cells("scola_fmnist_5spc_cpu", "about 15 minutes on a 2-core CPU, the classifiers as long again")
    + [SHOW, SCOLA_ACCURACY],
  ),
  "lasium": (
    "# LASIUM: meta-learning from tasks sampled in a GAN's latent space\n\nTrains the Omniglot GAN on 5 "
    "alphabets without labels (`lasium_gan_omniglot_cpu`), then MAML on LASIUM-RO tasks drawn from it "
    "(`lasium_omniglot_cpu`), and tests 5-way 1-shot accuracy on alphabets neither saw.",
    train_cells("lasium_gan_omniglot_cpu", "the GAN and the meta-learner take up to 30 minutes each on a 2-core CPU")
    + [SHOW, LASIUM_CHAIN],
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
  paths = []
  for name, (intro, cells) in NOTEBOOKS.items():
    paths.append(HERE / f"{name}.ipynb")
    nbformat.write(build(name, intro, cells), paths[-1])
  # The committed notebooks are what ruff's format makes of these cells (CI checks the format).
  subprocess.run([sys.executable, "-m", "ruff", "format", "-q", *map(str, paths)], check=True)
  print("\n".join(map(str, paths)))


if __name__ == "__main__":
  main()
