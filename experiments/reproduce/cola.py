"""COLA / sCOLA on Fashion-MNIST on the CPU: small-sample classification (paper Sec. 6) and Step-I
clustering accuracy.

  python experiments/reproduce/cola.py                      # everything: 3 sizes x 3 seeds + clustering
  python experiments/reproduce/cola.py --spc=5 --seeds=0    # one size, one seed
  python experiments/reproduce/cola.py --report             # only the table of the cells finished so far
  python experiments/reproduce/cola.py --classify=WORKDIR   # the classifiers on one trained sCOLA workdir

For k in --spc (5, 10, 20 images per class) and each seed: trains `scola_fmnist_{k}spc_cpu:seed=S` (the
k-shot subset is chosen by the seed), then three ResNet-20s (config.classify, the B.3 protocol of
fsgen.metrics.small_sample, run through fsgen.metrics.evaluate) on the real subset, on the generated
images (`gen_per_class` per class; its accuracy is the CAS of the generator) and on Mix (every batch half
real, half generated), each tested on the 10,000 t10k images. For each seed it also trains Step I,
`cola_fmnist_cpu:stage=1,seed=S` (1,000 unlabelled images), and reports the Hungarian-matched accuracy
of its cluster labels against the true classes. Cells (a generator, one classifier, one Step I) are
resumable: each writes its JSON under --root when it finishes (experiments/reproduce/_common.cell) and
training resumes from its workdir, so the script can be stopped and restarted in another session. The
loop is seed-major (a stopped run has every size for the first seeds), real-only and Mix first, the
generated-only (CAS) classifiers after all seeds. Writes ROOT/results.json and
ROOT/results.md (mean ± sample std over seeds, the paired Mix - real difference per seed with its
t-interval) and prints the table; unfinished cells show as n/a with the count of cells that ran.
`--test` runs the whole pipeline on the presets' reduced forms (builtin:digits, 2 steps) in a minute.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pathlib
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(pathlib.Path.home() / ".cache" / "fsgen-jax-cache"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "1")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import ml_collections  # noqa: E402
import numpy as np  # noqa: E402
from scipy import stats  # noqa: E402

from experiments import configs  # noqa: E402
from experiments.reproduce._common import cell, done, markdown_table, mean_spread  # noqa: E402
from fsgen import data as fsdata  # noqa: E402
from fsgen import metrics, train  # noqa: E402
from fsgen.losses.assignment import cluster_labels, matched_accuracy  # noqa: E402
from fsgen.metrics import small_sample  # noqa: E402
from fsgen.sample import load_sampler  # noqa: E402

MODES = small_sample.MODES


def _config(spec: str, test: bool, progress: bool):
  c = configs.load(spec + (",test" if test else ""))
  c.progress = progress
  return c


def classify_workdir(workdir, config, modes=MODES) -> dict[str, float]:
  """The Sec. 6 protocol on a trained sCOLA workdir: {mode: test accuracy}."""
  method, params = load_sampler(str(workdir))
  reference = small_sample.test_data_config(config.data, config.classify.test_source)
  ev = small_sample.Evaluator(fsdata.load(config.data), reference, modes=modes, **config.classify)
  samplers = metrics.Samplers(method, {"classify": ev})
  return metrics.evaluate(samplers, {"classify": ev}, params, jax.random.key(config.classify.seed))["classify"]


def scola_cells(root: pathlib.Path, spc: int, seed: int, test: bool, progress: bool, modes=MODES) -> dict:
  """{"generator": {...}, mode: {"accuracy", "seconds"}} of one size and seed (each part its own cell)."""
  workdir = root / f"scola_{spc}spc_seed{seed}"
  c = _config(f"scola_fmnist_{spc}spc_cpu:seed={seed}", test, progress)

  def generator():
    start = time.time()
    r = train.train_and_evaluate(c, workdir)
    return {"seconds": time.time() - start, "steps": r.step}

  pending = [m for m in modes if not (workdir / f"classify_{m}.json").exists()]
  trained = (workdir / "export" / "config.json").exists() or (workdir / "checkpoints").exists()
  if pending and not trained and (workdir / "generator.json").exists():
    # Cells copied from another machine (results/cola/): the generator they record is not here. Training
    # it again from the same seed gives the same generator; its new wall time replaces the old record.
    (workdir / "generator.json").unlink()
  out = {"generator": cell(workdir / "generator.json", generator)}
  for mode in modes:

    def classify(mode=mode):
      start = time.time()
      acc = classify_workdir(workdir, c, (mode,))[mode]
      return {"accuracy": acc, "seconds": time.time() - start}

    out[mode] = cell(workdir / f"classify_{mode}.json", classify)
    print(f"sCOLA {spc} spc seed {seed} {mode}: {out[mode]['accuracy']:.4f} ({out[mode]['seconds']:.0f} s)", flush=True)
  return out


def clustering_cell(root: pathlib.Path, seed: int, test: bool, progress: bool) -> dict:
  workdir = root / f"cola_step1_seed{seed}"
  c = _config(f"cola_fmnist_cpu:stage=1,seed={seed}", test, progress)

  def compute():
    start = time.time()
    r = train.train_and_evaluate(c, workdir)
    labels = jnp.asarray(fsdata.load(c.data).labels)
    clusters = cluster_labels(r.state["extra"]["targets"], r.state["extra"]["means"])
    k = c.cola_encoder.clusters
    acc = float(matched_accuracy(clusters, labels, k, max(k, int(labels.max()) + 1)))
    return {"accuracy": acc, "seconds": time.time() - start, "steps": r.step}

  return cell(workdir / "clustering.json", compute)


def paired(diffs) -> str:
  """'m ± s (n), 95% t-interval [lo, hi]' of per-seed paired differences (in points)."""
  d = np.asarray([v for v in diffs if v is not None], np.float64)
  if len(d) < 2:
    return mean_spread(d)
  half = stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / math.sqrt(len(d))
  return f"{mean_spread(d)}, 95% CI [{d.mean() - half:.2f}, {d.mean() + half:.2f}]"


def final_metric(workdir: pathlib.Path, name: str) -> float | None:
  """The last logged value of metric `name` in workdir/metrics.jsonl (None when absent)."""
  path = workdir / "metrics.jsonl"
  if not path.exists():
    return None
  values = [row[name] for row in map(json.loads, path.read_text().splitlines()) if name in row]
  return values[-1] if values else None


def report(root: pathlib.Path, spcs, seeds, cluster_seeds) -> str:
  """The Markdown tables of the finished cells under `root` (unfinished ones are left out and counted)."""
  rows, ran = [], 0
  for spc in spcs:
    acc = {m: [] for m in MODES}
    diffs = []
    for s in seeds:
      cells = {m: done(root / f"scola_{spc}spc_seed{s}" / f"classify_{m}.json") for m in MODES}
      for m in MODES:
        acc[m].append(100 * cells[m]["accuracy"] if cells[m] else None)
      ran += sum(v is not None for v in cells.values())
      if cells["real"] and cells["mix"]:
        diffs.append(100 * (cells["mix"]["accuracy"] - cells["real"]["accuracy"]))
    rows.append([spc] + [mean_spread(acc[m]) for m in MODES] + [paired(diffs)])
    rows[-1].append(", ".join(f"{v:+.1f}" for v in diffs) or "n/a")
  header = ["images per class", "real only", "generated only (CAS)", "Mix", "Mix - real (paired)", "per seed"]
  lines = [markdown_table(header, rows), "", f"classifier cells ran: {ran} of {len(spcs) * len(seeds) * len(MODES)}"]
  clustering = {s: done(root / f"cola_step1_seed{s}" / "clustering.json") for s in cluster_seeds}
  finished = {s: r for s, r in clustering.items() if r}
  if cluster_seeds:
    lines.append(
      f"Step I clustering accuracy (Hungarian-matched, seeds {', '.join(map(str, finished)) or 'none'} of "
      f"{', '.join(map(str, cluster_seeds))}): {mean_spread([100 * r['accuracy'] for r in finished.values()])} %"
    )
  times = []
  for spc in spcs:
    for s in seeds:
      g = done(root / f"scola_{spc}spc_seed{s}" / "generator.json")
      cls = [done(root / f"scola_{spc}spc_seed{s}" / f"classify_{m}.json") for m in MODES]
      if g and all(cls):
        times.append(
          f"{spc} spc seed {s}: generator {g['seconds']:.0f} s for {g['steps']} steps, "
          f"classifiers {sum(x['seconds'] for x in cls):.0f} s"
        )
  for s, r in finished.items():
    times.append(f"Step I seed {s}: {r['seconds']:.0f} s for {r['steps']} steps")
  drift = [final_metric(root / f"scola_{spc}spc_seed{s}", "Z/label_drift") for spc in spcs for s in seeds]
  drift = [d for d in drift if d is not None]
  if drift:
    lines += [
      "",
      f"Class parts that ended Step II nearer another class's corner (Z/label_drift, {len(drift)} generators): "
      f"max {100 * max(drift):.1f} %, mean {100 * float(np.mean(drift)):.1f} %.",
    ]
  if times:
    lines += ["", "Wall time per cell: " + "; ".join(times) + "."]
  return "\n".join(lines)


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument("--spc", default="5,10,20", help="images per class, comma-separated")
  p.add_argument("--seeds", default="0,1,2")
  p.add_argument("--root", default=str(ROOT / "runs" / "reproduce_cola"))
  p.add_argument("--no_clustering", action="store_true", help="skip Step I clustering accuracy")
  p.add_argument("--clustering_seeds", default="", help="seeds for Step I (default: --seeds)")
  p.add_argument("--classify", default="", help="only run the classifiers on this trained sCOLA workdir")
  p.add_argument("--report", action="store_true", help="only print the table of the finished cells")
  p.add_argument("--test", action="store_true", help="reduced presets (builtin:digits, 2 steps)")
  p.add_argument("--progress", action="store_true")
  args = p.parse_args(argv)
  if args.classify:
    config = ml_collections.ConfigDict(json.loads((pathlib.Path(args.classify) / "config.json").read_text()))
    print(json.dumps(classify_workdir(args.classify, config)))
    return
  root = pathlib.Path(args.root)
  root.mkdir(parents=True, exist_ok=True)
  spcs, seeds = [int(s) for s in args.spc.split(",")], [int(s) for s in args.seeds.split(",")]
  cluster_seeds = [] if args.no_clustering else seeds
  if args.clustering_seeds and not args.no_clustering:
    cluster_seeds = [int(s) for s in args.clustering_seeds.split(",")]
  if not args.report:
    # Seed-major (a stopped run still has every size for the first seeds); real-only and Mix first, the
    # generated-only (CAS) classifiers after every seed's comparison.
    for seed in seeds:
      for spc in spcs:
        scola_cells(root, spc, seed, args.test, args.progress, modes=("real", "mix"))
      if seed in cluster_seeds:
        r = clustering_cell(root, seed, args.test, args.progress)
        print(f"Step I seed {seed}: accuracy {r['accuracy']:.4f} ({r['seconds']:.0f} s)", flush=True)
    for seed in seeds:
      for spc in spcs:
        scola_cells(root, spc, seed, args.test, args.progress, modes=("generated",))
  table = report(root, spcs, seeds, cluster_seeds)
  cells = {
    str(p.relative_to(root)): json.loads(p.read_text())
    for p in sorted(root.glob("*/*.json"))
    if p.name in ("generator.json", "clustering.json") or p.name.startswith("classify_")
  }
  (root / "results.json").write_text(json.dumps(cells, indent=1))
  (root / "results.md").write_text(table + "\n")
  print(table)


if __name__ == "__main__":
  main()
