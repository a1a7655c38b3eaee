"""Reproduces MixDL's comparison on the CPU presets: each preset with and without MixDL, same seeds.

  python experiments/reproduce/mixdl.py [--seeds 0] [--presets mixdl_anime10_cpu,mixdl_panda10_cpu]
                                        [--workdir runs/reproduce_mixdl] [--n 1000] [--steps N]

For every preset P in --presets and its twin P_nomixdl, and every seed, it trains (or resumes / reuses)
WORKDIR/<preset>_s<seed> through fsgen.train, then evaluates the EMA generator with the shared evaluators
(fsgen.metrics.<type>.Evaluator(dataset, **kw).run(sample_fn, key)):
  FID            fid against the FULL image folder (anime10: its 10 images; panda: all 100), `n` samples;
  intra-LPIPS    CDC's intra-cluster LPIPS-VGG around the 10 training images, `n` samples;
  LPIPS          pairwise LPIPS-VGG diversity of min(100, n) samples (MixDL Table 1's measure);
  distinct NN    number of distinct training images that are the LPIPS-VGG nearest neighbour of some
                 sample (MixDL Fig. 8b, with argmin; the official count_modes.py used argmax);
  PPL std        std of the perceptual distances of 10 sub-intervals along min(100, n) W paths
                 (MixDL Table 7).
It writes WORKDIR/table.md (mean +- std over seeds) and WORKDIR/results.json, and prints the table.
Cost, measured on the 2-core CPU shared with one other job: training 12-20 min per run (MixDL 1,073-1,215 s,
plain 720-917 s for 3,000 steps), metrics ~6 min per run at --n 300; the four runs took 1 h 45 min.
"""

import argparse
import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import jax  # noqa: E402
import numpy as np  # noqa: E402

from fsgen import configs, methods, train  # noqa: E402
from fsgen import data as fsdata
from fsgen import metrics as fsmetrics

COLUMNS = [
  ("FID", "fid", "fid", "lower"),
  ("intra-LPIPS", "intra_lpips", "intra_lpips", "higher"),
  ("LPIPS", "lpips", "lpips", "higher"),
  ("distinct NN", "nn", "distinct_nn", "higher"),
  ("PPL std", "ppl", "ppl_std", "lower"),
]


def evaluators(config, n: int) -> dict:
  """The five evaluators of the table, built lazily so a missing metric module names itself."""
  import importlib  # pylint: disable=import-outside-toplevel

  train_set = fsdata.load(config.data)
  full = dict(config.data)
  full["shots"] = 0  # FID against the whole folder
  small = min(100, n)
  kw = {
    "fid": dict(n=n, reference=full),
    "intra_lpips": dict(n=n),
    "lpips": dict(n=small),
    "nn": dict(n=n, space="lpips_vgg"),
    "ppl": dict(n=small),
  }
  return {name: importlib.import_module(f"fsgen.metrics.{name}").Evaluator(train_set, **kw[name]) for name in kw}


def evaluate(config, state, n: int, seed: int) -> dict:
  method = methods.build(config)
  params = method.sampling_params(state)
  evs = evaluators(config, n)
  samplers = fsmetrics.Samplers(method, evs, chunk=250)  # chunks of 250 keep memory flat at any n
  out = {}
  for i, ev in enumerate(evs.values()):
    out.update(ev.run(samplers.for_evaluator(ev, params), jax.random.fold_in(jax.random.key(1000 + seed), i)))
  return {k: float(v) for k, v in out.items()}


def run(preset: str, seed: int, workdir: pathlib.Path, n: int, steps: int) -> dict:
  config = configs.load(preset + (f":steps={steps}" if steps else ""))
  config.seed = seed
  config.progress = False
  wd = workdir / f"{preset}_s{seed}"
  result_path = wd / "metrics_final.json"
  if result_path.exists():
    return json.loads(result_path.read_text())
  result = train.train_and_evaluate(config, wd)
  metrics = {"train_seconds": result.seconds, **evaluate(config, result.state, n, seed)}
  result_path.write_text(json.dumps(metrics, indent=1))
  return metrics


def table(results: dict) -> str:
  lines = ["| preset | MixDL | " + " | ".join(c[0] for c in COLUMNS) + " |", "|---|---|" + "---|" * len(COLUMNS)]
  for preset, runs in results.items():
    base = preset.removesuffix("_nomixdl")
    cells = []
    for _, _, key, _better in COLUMNS:
      vals = [r[key] for r in runs if key in r]
      cells.append(
        f"{np.mean(vals):.3f} +- {np.std(vals):.3f}" if len(vals) > 1 else (f"{vals[0]:.3f}" if vals else "n/a")
      )
    lines.append(f"| {base} | {'no' if preset.endswith('_nomixdl') else 'yes'} | " + " | ".join(cells) + " |")
  arrows = ", ".join(f"{c[0]} {c[3]} is better" for c in COLUMNS)
  return "\n".join(lines) + f"\n\n({arrows}; seeds: {len(next(iter(results.values())))})\n"


def main():
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument("--seeds", default="0")
  p.add_argument("--presets", default="mixdl_anime10_cpu,mixdl_panda10_cpu")
  p.add_argument("--workdir", default="runs/reproduce_mixdl")
  p.add_argument("--n", type=int, default=1000, help="samples for FID, intra-LPIPS and distinct NN")
  p.add_argument("--steps", type=int, default=0, help="override the presets' step count (0 = theirs)")
  a = p.parse_args()
  workdir = pathlib.Path(a.workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  results = {}
  for preset in a.presets.split(","):
    for name in (preset, preset + "_nomixdl"):
      results[name] = [run(name, int(s), workdir, a.n, a.steps) for s in a.seeds.split(",")]
  (workdir / "results.json").write_text(json.dumps(results, indent=1))
  text = table(results)
  (workdir / "table.md").write_text(text)
  print(text)


if __name__ == "__main__":
  main()
