"""IMLE against Adaptive IMLE on 100-shot Panda (the CPU presets), with reference rows that calibrate the numbers.

  python experiments/reproduce/adaptive_imle.py [--seeds 0,1,2] [--variants imle,imle_matched,adaimle]
                                                [--workdir runs/reproduce_adaptive_imle] [--n 500]

Cells (each resumable: a finished cell is a JSON file under WORKDIR/cells, a stopped training resumes
from its checkpoint in WORKDIR/runs), run seed-major (all variants of seed 0, then seed 1, ...):
  model cells    one preset (VARIANTS) trained through fsgen.train with one seed; during training the loop
                 logs the coverage curve (fsgen.metrics.coverage every --curve_every_epochs); at the end
                 fsgen.metrics.evaluate scores the raw generator (the official code evaluates it):
                 FID and KID of --n samples against the 100 training images (the official protocol uses the
                 training set as reference), improved precision/recall (k = 3) on the same Inception features,
                 and coverage;
  reference rows sets of real images scored with the same metrics and the same coverage distance:
                 five noisy copies of each training image (500 samples), the training images blurred 2x
                 (100), and a different subset of real pandas (a random half of the 100 against the other
                 half: 50 vs 50, three splits). FID is biased upward at small sample counts; KID is not.
Coverage: for each training image, the distance of its nearest sample, min_j L(g_j, x_i), under one fixed
distance (--coverage: LPIPS-AlexNet on a 2x upsampled input + 0.1 pixel MSE, for every row alike).
Writes WORKDIR/table.md and prints it; partial tables say which cells ran.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import jax  # noqa: E402
import numpy as np  # noqa: E402

from experiments import configs  # noqa: E402
from experiments.reproduce._common import cell, done, markdown_table, mean_spread  # noqa: E402
from fsgen import data as fsdata  # noqa: E402
from fsgen import methods, train  # noqa: E402
from fsgen import metrics as fsmetrics  # noqa: E402
from fsgen.data.info import DataInfo  # noqa: E402
from fsgen.data.preprocess import to_float  # noqa: E402
from fsgen.metrics import coverage, inception, kid, pr  # noqa: E402
from fsgen.metrics.fid import fid_from_features  # noqa: E402

# name -> preset spec; the variants differ only in the re-matching rule. imle_matched re-matches every
# example every MATCHED_EPOCHS epochs: as often as Adaptive IMLE re-matches an example on average.
MATCHED_EPOCHS = 6
VARIANTS = {
  "imle": "imle_panda100_cpu",
  "imle_matched": f"imle_panda100_cpu:force_resample={MATCHED_EPOCHS}",
  "adaimle": "adaimle_panda100_cpu",
}
COVERAGE = dict(type="coverage", features="lpips_alex", lpips_size=64, l2_coef=0.1, lpips_coef=1.0)
# Reference rows and their seeds (blur is deterministic; noise rows vary little between seeds).
REFERENCES = {"noise_0.2": (0,), "noise_0.3": (0,), "blur_2x": (0,), "other_pandas": (0, 1, 2)}


def spec_of(variant: str, test: bool = False) -> str:
  """The preset spec of a variant; `test` gives its reduced form."""
  spec = VARIANTS[variant]
  return spec + ((",test" if ":" in spec else ":test") if test else "")


def final_evaluators(n: int, size: int = inception.FID_SIZE) -> dict:
  """The end-of-training metrics (each an fsgen.metrics evaluator config), run by fsgen.metrics.evaluate.

  size: the Inception input side (299, the FID protocol; the reduced `--test` form uses a cheaper one).
  """
  return {
    "fid": dict(type="fid", every=1, n=n, kid=True, size=size),
    "pr": dict(type="pr", every=1, n=n, size=size),
    "cov": dict(COVERAGE, every=1, n=n),
  }


def train_cell(
  spec: str, seed: int, run_dir: pathlib.Path, n: int, curve_n: int, curve_every: int, size: int = inception.FID_SIZE
) -> dict:
  """Trains (or resumes) one preset and seed, then scores it; returns the cell's JSON."""
  c = configs.load(spec)
  c.seed, c.progress = seed, False
  c.evals = {"curve": dict(COVERAGE, every_epochs=curve_every, every=0, n=curve_n)}
  t0 = time.time()
  result = train.train_and_evaluate(c, run_dir)
  train_seconds = time.time() - t0
  dataset = fsdata.load(c.data)
  info = DataInfo.of(dataset, c.batch_size)
  method = methods.build(c, info)
  evaluators = fsmetrics.build_all(final_evaluators(n, size), dataset, info)
  samplers = fsmetrics.Samplers(method, evaluators, chunk=100)
  t0 = time.time()
  scores = fsmetrics.evaluate(samplers, evaluators, method.sampling_params(result.state), jax.random.key(10_000 + seed))
  ex = jax.device_get(result.state["extra"])
  curve = {}
  for line in (run_dir / "metrics.jsonl").read_text().splitlines():
    row = json.loads(line)
    if "curve/cov_mean" in row:
      curve[int(row["step"])] = row["curve/cov_mean"]
  return {
    "spec": spec,
    "seed": seed,
    "steps": int(result.step),
    "epochs": int(result.step) // info.full_batches,
    "scores": scores,
    "curve": sorted(curve.items()),
    "rematched_total": int(ex["rematched_total"]),
    "rounds": int(ex["rounds"]),
    "pools": int(ex.get("pools", ex["rounds"])),
    "train_seconds": round(train_seconds, 1),
    "eval_seconds": round(time.time() - t0, 1),
  }


def reference_sets(images: np.ndarray, name: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
  """(reference uint8 [N, H, W, C], "samples" float [M, H, W, C] in [-1, 1]) of one reference row."""
  x = np.asarray(to_float(images))
  rng = np.random.default_rng(seed)
  if name.startswith("noise_"):  # 5 noisy copies of every image: 5n samples, as the model rows
    copies = np.concatenate([x] * 5)
    return images, copies + float(name.split("_")[1]) * rng.standard_normal(copies.shape).astype(np.float32)
  if name == "blur_2x":
    n, h, w, c = x.shape
    small = jax.image.resize(x, (n, h // 2, w // 2, c), "bilinear", antialias=True)
    return images, np.asarray(jax.image.resize(small, x.shape, "bilinear"))
  if name == "other_pandas":
    perm = rng.permutation(len(images))
    half = len(images) // 2
    return images[perm[:half]], x[perm[half:]]
  raise ValueError(f"unknown reference row {name!r} (known: {', '.join(REFERENCES)})")


def reference_cell(spec: str, name: str, seed: int, size: int = inception.FID_SIZE) -> dict:
  """One reference row scored with the metrics of the model cells (same functions, same coverage distance)."""
  c = configs.load(spec)
  ref_images, samples = reference_sets(np.asarray(fsdata.load(c.data).images), name, seed)
  ref_feats = inception.features(ref_images, size)
  feats = inception.features(np.clip(samples, -1.0, 1.0), size)
  cov = coverage.Evaluator(_Images(ref_images), **{k: v for k, v in COVERAGE.items() if k != "type"})
  d, idx = cov.distances(samples)
  return {
    "name": name,
    "seed": seed,
    "n_ref": len(ref_images),
    "n": len(samples),
    "scores": {
      "fid": {"fid": fid_from_features(ref_feats, feats), "kid": kid.kernel_inception_distance(ref_feats, feats)},
      "pr": pr.precision_recall(ref_feats, feats),
      "cov": coverage.coverage_stats(d, idx),
    },
  }


class _Images:
  """The `dataset` argument of an evaluator: any object with uint8 `images` [N, H, W, C]."""

  def __init__(self, images):
    self.images = images


COLUMNS = [
  ("FID", "fid", "fid", 1),
  ("KID x1e3", "fid", "kid", 1e3),
  ("precision", "pr", "precision", 1),
  ("recall", "pr", "recall", 1),
  ("coverage mean L", "cov", "cov_mean", 1),
  ("coverage max L", "cov", "cov_max", 1),
]


def _col(results: list[dict], group: str, key: str, scale: float, digits: int = 3) -> str:
  vals = [r["scores"][group][key] * scale for r in results if group in r["scores"]]
  return mean_spread(vals, digits) if vals else "-"


def table(workdir: pathlib.Path, variants: dict, seeds: list[int], n: int) -> str:
  cells = workdir / "cells"
  rows, ran, total = [], 0, 0
  for name in variants:
    results = [r for s in seeds if (r := done(cells / f"{name}_s{s}.json"))]
    ran, total = ran + len(results), total + len(seeds)
    per_example = [r["rematched_total"] / 100 for r in results]
    rows.append(
      [f"{name} (`{variants[name]}`)", n]
      + [_col(results, g, k, s) for _, g, k, s in COLUMNS]
      + [mean_spread(per_example, 1), mean_spread([r["pools"] for r in results], 0)]
    )
  for name, ref_seeds in REFERENCES.items():
    results = [r for s in ref_seeds if (r := done(cells / f"reference_{name}_s{s}.json"))]
    ran, total = ran + len(results), total + len(ref_seeds)
    size = f"{results[0]['n']} vs {results[0]['n_ref']}" if results else "-"
    rows.append([f"reference: {name}", size] + [_col(results, g, k, s) for _, g, k, s in COLUMNS] + ["-", "-"])
  header = ["row", "samples"] + [c[0] for c in COLUMNS] + ["re-matches per image", "pools"]
  return f"cells ran: {ran} of {total} (seeds {','.join(map(str, seeds))})\n\n" + markdown_table(header, rows)


def main(argv=None):
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--workdir", default="runs/reproduce_adaptive_imle")
  ap.add_argument("--seeds", default="0,1,2")
  ap.add_argument("--variants", default=",".join(VARIANTS), help=f"names of {sorted(VARIANTS)}")
  ap.add_argument("--n", type=int, default=500, help="samples per evaluation (5n, the official protocol)")
  ap.add_argument("--curve_every_epochs", type=int, default=20)
  ap.add_argument("--references", default=",".join(REFERENCES))
  ap.add_argument("--curve_n", type=int, default=500, help="samples per point of the coverage curve")
  ap.add_argument("--table_only", action="store_true")
  ap.add_argument("--test", action="store_true", help="the presets' reduced forms, few samples, small Inception")
  args = ap.parse_args(argv)
  workdir = pathlib.Path(args.workdir)
  seeds = [int(s) for s in args.seeds.split(",")]
  variants = {v: spec_of(v, args.test) for v in args.variants.split(",")}
  size = 75 if args.test else inception.FID_SIZE
  refs = [r for r in args.references.split(",") if r]
  if not args.table_only:
    for seed in seeds:  # seed-major: every variant of seed 0 first, so a stopped run leaves whole seeds
      for name, spec in variants.items():
        run_dir = workdir / "runs" / f"{name}_s{seed}"
        path = workdir / "cells" / f"{name}_s{seed}.json"
        compute = lambda: train_cell(spec, seed, run_dir, args.n, args.curve_n, args.curve_every_epochs, size)
        result = cell(path, compute)
        print(name, seed, json.dumps(result["scores"]), flush=True)
      for name in refs:
        if seed in REFERENCES[name]:
          path = workdir / "cells" / f"reference_{name}_s{seed}.json"
          cell(path, lambda: reference_cell(spec_of("adaimle", args.test), name, seed, size))
  text = table(workdir, variants, seeds, args.n)
  (workdir / "table.md").write_text(text + "\n")
  print(text)


if __name__ == "__main__":
  main()
