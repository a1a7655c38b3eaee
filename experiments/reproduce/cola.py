"""COLA / sCOLA on Fashion-MNIST on the CPU: small-sample classification (paper Sec. 6) and Step-I
clustering accuracy.

  python experiments/reproduce/cola.py                      # everything: 3 sizes x 3 seeds + clustering
  python experiments/reproduce/cola.py --spc=5 --seeds=0    # one cell
  python experiments/reproduce/cola.py --classify=WORKDIR   # the classifiers on one trained sCOLA workdir

For k in --spc (5, 10, 20 images per class) and each seed: trains `scola_fmnist_{k}spc_cpu:seed=S` (the
k-shot subset is chosen by the seed), then three ResNet-20s (config.classify: B.3 schedule, 180 x 1 steps)
on the real subset, on 500 generated images per class (its accuracy is the CAS of the generator) and on
Mix (every batch half real, half generated), each tested on the 10,000 t10k images. For each seed it
also trains Step I, `cola_fmnist_cpu:stage=1,seed=S` (1,000 unlabelled images), and reports the
Hungarian-matched accuracy of its cluster labels against the true classes. Every run resumes from its
workdir (--root, default runs/reproduce_cola) and finished cells are read back from their result files,
so the script can be stopped and restarted. Prints a Markdown table (mean +- std over seeds) and writes
ROOT/results.json and ROOT/results.md.

Cost on the 2-core CPU, measured on 2026-11-22 next to one other job: per seed a 5 / 10 / 20 spc cell
(sCOLA generator + three ResNet-20s) took 11-14 / 19-23 / 22-30 min and Step I 7.5 min; the whole default
run an estimated ~3 h as one process (2 h 35 min here with the seed-2 cells as a second process). Per phase see
bench/phase_speed.py (Step II 354 ms/step, Step I assignment 601 ms, rotation 1,785 ms).
`--test` runs the whole pipeline on the presets' reduced forms (builtin:digits, 2 steps) in a minute.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(pathlib.Path.home() / ".cache" / "fsgen-jax-cache"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "1")

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from fsgen import classify, configs, train  # noqa: E402
from fsgen import data as fsdata
from fsgen.losses.assignment import matched_accuracy  # noqa: E402
from fsgen.methods import cola_encoder  # noqa: E402


def _config(spec: str, test: bool, progress: bool):
  c = configs.load(spec + (",test" if test else ""))
  c.progress = progress
  return c


def scola_cell(root: pathlib.Path, spc: int, seed: int, test: bool, progress: bool) -> dict:
  workdir = root / f"scola_{spc}spc_seed{seed}"
  result = workdir / "classify.json"
  if result.exists():
    return json.loads(result.read_text())
  train.train_and_evaluate(_config(f"scola_fmnist_{spc}spc_cpu:seed={seed}", test, progress), workdir)
  out = classify.run(workdir)
  result.write_text(json.dumps(out))
  return out


def clustering_cell(root: pathlib.Path, seed: int, test: bool, progress: bool) -> float:
  workdir = root / f"cola_step1_seed{seed}"
  result = workdir / "clustering.json"
  if result.exists():
    return json.loads(result.read_text())["accuracy"]
  c = _config(f"cola_fmnist_cpu:stage=1,seed={seed}", test, progress)
  r = train.train_and_evaluate(c, workdir)
  labels = jnp.asarray(fsdata.load(c.data).labels)
  clusters = cola_encoder.cluster_labels(r.state["extra"]["targets"], r.state["extra"]["means"])
  k = c.cola_encoder.clusters
  acc = float(matched_accuracy(clusters, labels, k, max(k, int(labels.max()) + 1)))
  result.write_text(json.dumps({"accuracy": acc}))
  return acc


def _fmt(values) -> str:
  v = 100 * np.asarray(values)
  return f"{v.mean():.2f} ± {v.std():.2f}" if len(v) > 1 else f"{v.mean():.2f}"


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument("--spc", default="5,10,20", help="images per class, comma-separated")
  p.add_argument("--seeds", default="0,1,2")
  p.add_argument("--root", default="runs/reproduce_cola")
  p.add_argument("--no_clustering", action="store_true", help="skip Step I clustering accuracy")
  p.add_argument("--clustering_seeds", default="", help="seeds for Step I (default: --seeds)")
  p.add_argument("--classify", default="", help="only run the classifiers on this trained sCOLA workdir")
  p.add_argument("--test", action="store_true", help="reduced presets (builtin:digits, 2 steps)")
  p.add_argument("--progress", action="store_true")
  args = p.parse_args(argv)
  os.chdir(ROOT)  # the presets name ../shared/data relative to the repository root
  if args.classify:
    print(json.dumps(classify.run(args.classify)))
    return
  root = pathlib.Path(args.root)
  root.mkdir(parents=True, exist_ok=True)
  spcs, seeds = [int(s) for s in args.spc.split(",")], [int(s) for s in args.seeds.split(",")]
  cluster_seeds = [int(s) for s in args.clustering_seeds.split(",")] if args.clustering_seeds else seeds
  results = {"classification": {}, "clustering": {}}
  for seed in seeds:  # seed-major: a stopped run still has every size for the first seeds
    for spc in spcs:
      start = time.time()
      results["classification"][f"{spc}/{seed}"] = scola_cell(root, spc, seed, args.test, args.progress)
      (root / "results.json").write_text(json.dumps(results, indent=1))
      print(
        f"sCOLA {spc} spc seed {seed}: {results['classification'][f'{spc}/{seed}']} ({time.time() - start:.0f} s)",
        flush=True,
      )
    if not args.no_clustering and seed in cluster_seeds:
      start = time.time()
      results["clustering"][str(seed)] = clustering_cell(root, seed, args.test, args.progress)
      (root / "results.json").write_text(json.dumps(results, indent=1))
      print(
        f"Step I seed {seed}: accuracy {results['clustering'][str(seed)]:.4f} ({time.time() - start:.0f} s)", flush=True
      )
  lines = ["| images per class | real only | generated only (CAS) | Mix |", "|---|---|---|---|"]
  for spc in spcs:
    cells = [results["classification"][f"{spc}/{s}"] for s in seeds]
    lines.append(f"| {spc} | " + " | ".join(_fmt([c[m] for c in cells]) for m in classify.MODES) + " |")
  if results["clustering"]:
    lines.append("")
    lines.append(
      f"Step I clustering accuracy (Hungarian-matched, seeds {', '.join(results['clustering'])}): "
      f"{_fmt(list(results['clustering'].values()))} %"
    )
  table = "\n".join(lines)
  (root / "results.md").write_text(table + "\n")
  print(table)


if __name__ == "__main__":
  main()
