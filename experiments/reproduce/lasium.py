"""LASIUM's Table 1 at the CPU scale: Omniglot 5-way 1- and 5-shot accuracy on novel alphabets.

  python experiments/reproduce/lasium.py --root runs/reproduce_lasium [--seeds 0,1,2] [--steps N]
      [--gan_epochs E] [--rows scratch,ro_gan_maml,...] [--n_tasks 1000] [--table_only] [--reduced]

Stage 1 (once, seed 0): the paper's GAN with the MSGAN term on images_background_small1 without labels
(lasium_gan_omniglot_cpu). Stage 2, for each meta-training seed (seed-major: every row of seed 0, then
seed 1, ...), one row = one meta-training run, then its evaluation on the same 1000 fixed 5-way tasks
(seed 42) of the alphabets of images_background_small2 that small1 lacks (Japanese_(katakana), Sanskrit,
Tagalog), with 1 and 5 shots and 15 queries per class, MAML adapting 50 steps (fsgen.metrics.episodes
through fsgen.metrics.evaluate). Rows, in the order they run (the most telling first):
  scratch           lasium_supervised_omniglot_cpu:steps=0 (no meta-training: training from scratch)
  ro_gan_maml       lasium_omniglot_cpu:strategy=ro        (Table 1's headline row)
  untrained_gan     lasium_omniglot_cpu:strategy=ro,untrained (RO-MAML on a randomly initialised GAN)
  supervised_maml   lasium_supervised_omniglot_cpu         (small1's labels: the upper bound)
  n_gan_maml_eps    lasium_omniglot_cpu:strategy=n         (epsilon 246.09375, the shipped run)
  oc_gan_maml       lasium_omniglot_cpu:strategy=oc
  ro_gan_protonets  lasium_omniglot_cpu:strategy=ro,learner=protonets
Every learner row meta-trains --steps iterations (default lasium_omniglot_cpu.STEPS), the same for all:
the paper's Table 1 length is unstated and its ablations (Tables 7, 9, Fig. 5) run 1000. Each cell (the GAN,
each row and seed) is resumable: its result is a JSON file under ROOT/cells, and a stopped script re-run with the same
arguments skips finished cells (experiments/reproduce/_common.cell). The table is written to
ROOT/table.md with the command, saying which cells ran. --reduced runs the same path on every preset's
:test form (tiny nets, 2 steps; used by tests/test_lasium_reproduce.py).
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))

import numpy as np

from experiments import configs as presets
from experiments.configs import _lasium, lasium_omniglot_cpu
from experiments.reproduce._common import cell, done, interval95, markdown_table, mean_spread, set_dotted

# The most telling rows first (a partial table still answers the paper's main claims).
ROWS = {
  "scratch": ("lasium_supervised_omniglot_cpu:steps=0", "Training from scratch (no meta-training)"),
  "ro_gan_maml": ("lasium_omniglot_cpu:strategy=ro", "LASIUM-RO-GAN-MAML"),
  "untrained_gan": ("lasium_omniglot_cpu:strategy=ro,untrained", "LASIUM-RO-MAML, untrained generator"),
  "supervised_maml": ("lasium_supervised_omniglot_cpu", "Supervised MAML (small1 labels)"),
  "n_gan_maml_eps": ("lasium_omniglot_cpu:strategy=n", "LASIUM-N-GAN-MAML, epsilon 246.09"),
  "oc_gan_maml": ("lasium_omniglot_cpu:strategy=oc", "LASIUM-OC-GAN-MAML"),
  "ro_gan_protonets": ("lasium_omniglot_cpu:strategy=ro,learner=protonets", "LASIUM-RO-GAN-ProtoNets"),
}
SHOTS = (1, 5)


def _spec(spec: str, reduced: bool) -> str:
  """The row's preset spec, in its :test form when reduced."""
  if not reduced:
    return spec
  return spec + (",test" if ":" in spec else ":test")


def _train(spec: str, workdir: pathlib.Path, overrides: dict) -> dict:
  from fsgen import train  # pylint: disable=import-outside-toplevel

  config = presets.load(spec)
  for key, value in overrides.items():  # dotted keys: "lasium.untrained_generator"
    set_dotted(config, key, value)
  config.progress = False
  result = train.train_and_evaluate(config, workdir)
  return {"steps": result.step, "seconds": round(result.seconds, 1), "compiles": result.compile_counts}


def _learner(workdir: pathlib.Path):
  """(method, params, training set) of a finished workdir's learner."""
  import ml_collections  # pylint: disable=import-outside-toplevel

  from fsgen import data as fsdata  # pylint: disable=import-outside-toplevel
  from fsgen.sample import load_sampler  # pylint: disable=import-outside-toplevel

  config = ml_collections.ConfigDict(json.loads((workdir / "config.json").read_text()))
  method, params = load_sampler(str(workdir))
  return method, params, fsdata.load(config.data)


def _untrained_learner(spec: str, seed: int):
  """(method, params, training set) of the preset's learner at its initialisation (the loop's init key for
  `seed`): training from scratch, no meta-training. The loop refuses 0 steps, so it is built here."""
  import jax  # pylint: disable=import-outside-toplevel

  from fsgen import data as fsdata  # pylint: disable=import-outside-toplevel
  from fsgen import methods  # pylint: disable=import-outside-toplevel
  from fsgen.data.info import DataInfo  # pylint: disable=import-outside-toplevel

  config = presets.load(spec)
  config.seed = seed
  dataset = fsdata.load(config.data)
  data = {"images": dataset.images, "labels": dataset.labels}
  method = methods.build(config, DataInfo.of(dataset, config.batch_size))
  init_key = jax.random.split(jax.random.key(seed), 4)[0]  # fsgen.train's init key
  state = jax.jit(method.init)(init_key, data)
  return method, method.sampling_params(state), dataset


def _evaluate(method, params, train_set, root: pathlib.Path, n_tasks: int) -> dict:
  """1- and 5-shot accuracy of a learner on the fixed novel-alphabet tasks (fsgen.metrics.evaluate)."""
  import jax  # pylint: disable=import-outside-toplevel

  from fsgen import metrics as fsmetrics  # pylint: disable=import-outside-toplevel

  evals = _lasium.episodes_evals(_lasium.novel_reference(), every=1, n_tasks=n_tasks, shots=SHOTS)
  for k in SHOTS:
    evals[f"{k}shot"]["record"] = str(root / f"episodes_{k}shot.json")
  evaluators = fsmetrics.build_all(evals, train_set)
  t0 = time.time()
  results = fsmetrics.evaluate(fsmetrics.Samplers(method, evaluators), evaluators, params, jax.random.key(0))
  out = {"eval_seconds": round(time.time() - t0, 1)}
  for name, ev in evaluators.items():
    out[name] = {**results[name], "task_accuracies": [round(float(a), 4) for a in ev.last_accuracies]}
  return out


def _cell_path(root, row, seed):
  return root / "cells" / f"{row}_seed{seed}.json"


def run(root: pathlib.Path, seeds, steps: int, gan_epochs: int, rows, n_tasks: int, reduced: bool = False) -> None:
  gan_dir = root / "gan"
  gan_spec = "lasium_gan_omniglot_cpu:test" if reduced else f"lasium_gan_omniglot_cpu:epochs={gan_epochs}"
  one_device = {"devices": 1} if reduced else {}  # the :test batches (2) need not divide over test devices
  gan = cell(root / "cells" / "gan.json", lambda: _train(gan_spec, gan_dir, {"seed": 0, **one_device}))
  print(f"GAN: {gan}", flush=True)
  for seed in seeds:  # seed-major: every row of seed 0 first
    for row in rows:
      spec = _spec(ROWS[row][0], reduced)
      workdir = root / row / f"seed{seed}"
      overrides = {"seed": seed, "evals": {}, "total_steps": steps, **one_device}
      if spec.startswith("lasium_omniglot_cpu") and "untrained" not in spec:
        overrides["init_from"] = str(gan_dir)
        overrides["lasium.untrained_generator"] = False  # the :test form's default is an untrained generator

      def compute(row=row, seed=seed, spec=spec, workdir=workdir, overrides=overrides):
        if row == "scratch":
          trained, learner = {"steps": 0, "seconds": 0.0, "compiles": {}}, _untrained_learner(spec, seed)
        else:
          trained, learner = _train(spec, workdir, overrides), _learner(workdir)
        return {"row": row, "seed": seed, "spec": spec, "train": trained, **_evaluate(*learner, root, n_tasks)}

      out = cell(_cell_path(root, row, seed), compute)
      summary = {k: round(100 * out[f"{k}shot"]["accuracy"], 2) for k in SHOTS}
      secs = f"train {out['train']['seconds']} s, eval {out['eval_seconds']} s"
      print(f"{row} seed {seed}: {summary} ({secs})", flush=True)


def table(root: pathlib.Path, seeds, rows, steps: int, gan_epochs: int, n_tasks: int, command: str = "") -> str:
  header = ["algorithm"] + [f"K_tr = {k}: mean ± sd over seeds (n)" for k in SHOTS]
  header += [f"K_tr = {k}: mean ± 95% interval, pooled tasks" for k in SHOTS] + ["train s / seed"]
  body, ran = [], 0
  for row in rows:
    cells = [done(_cell_path(root, row, s)) for s in seeds]
    missing = [str(s) for s, c in zip(seeds, cells) if c is None]
    cells = [c for c in cells if c is not None]
    ran += len(cells)
    name = ROWS[row][1] + (f" (seeds {', '.join(missing)} not run)" if missing and cells else "")
    if not cells:
      body.append([name] + ["not run"] * (2 * len(SHOTS) + 1))
      continue
    means = [mean_spread([100 * c[f"{k}shot"]["accuracy"] for c in cells]) for k in SHOTS]
    pooled = [interval95([100 * a for c in cells for a in c[f"{k}shot"]["task_accuracies"]]) for k in SHOTS]
    secs = np.mean([c["train"]["seconds"] for c in cells])
    body.append([name, *means, *pooled, f"{secs:.0f}"])
  total = len(rows) * len(seeds)
  gan = done(root / "cells" / "gan.json")
  gan_note = f"GAN: {gan['steps']} steps in {gan['seconds']:.0f} s" if gan else "GAN: not run"
  note = (
    f"Cells ran: {ran} of {total} (seeds {', '.join(map(str, seeds))}); {steps} meta-iterations per learner row; "
    f"{gan_note} ({gan_epochs} epochs of small1). Accuracy in %, {n_tasks} fixed 5-way tasks of small2's novel "
    "alphabets, 15 queries per class; the 95% interval is 1.96 sd / sqrt(n) over the tasks of every seed that ran."
  )
  text = markdown_table(header, body) + "\n\n" + note
  return (f"Command: `{command}`\n\n" if command else "") + text


def main(argv=None) -> None:
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument("--root", default="runs/reproduce_lasium")
  p.add_argument("--seeds", default="0,1,2")
  p.add_argument("--steps", type=int, default=lasium_omniglot_cpu.STEPS)
  p.add_argument("--gan_epochs", type=int, default=presets.load("lasium_gan_omniglot_cpu").total_epochs)
  p.add_argument("--rows", default=",".join(ROWS))
  p.add_argument("--n_tasks", type=int, default=1000)
  p.add_argument("--table_only", action="store_true")
  p.add_argument("--reduced", action="store_true", help="every preset's :test form (tiny nets, 2 steps)")
  a = p.parse_args(argv)
  root = pathlib.Path(a.root)
  seeds = [int(s) for s in a.seeds.split(",")]
  rows = a.rows.split(",")
  unknown = [r for r in rows if r not in ROWS]
  if unknown:
    sys.exit(f"error: unknown rows {unknown} (known: {', '.join(ROWS)})")
  if not a.table_only:
    run(root, seeds, a.steps, a.gan_epochs, rows, a.n_tasks, a.reduced)
  command = "python experiments/reproduce/lasium.py " + " ".join(sys.argv[1:] if argv is None else argv)
  text = table(root, seeds, rows, a.steps, a.gan_epochs, a.n_tasks, command.strip())
  root.mkdir(parents=True, exist_ok=True)
  (root / "table.md").write_text(text + "\n")
  print(text)


if __name__ == "__main__":
  main()
