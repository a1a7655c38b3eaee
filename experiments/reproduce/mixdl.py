"""Reproduces MixDL's comparison on the CPU presets: MixDL vs its plain twin, and the ablation of its parts.

  python experiments/reproduce/mixdl.py [--seeds 0,1,2] [--presets mixdl_panda10_cpu,mixdl_anime10_cpu]
      [--variants plain,mixdl] [--ablation no_dist,g_only,d_only] [--ablation_seeds 0]
      [--workdir runs/reproduce_mixdl] [--n 500] [--steps N] [--table_only]

Variants of a preset P (same data, seeds, schedule and EMA):
  mixdl    P itself (both distance terms, mixup steps, patch D);
  plain    P_nomixdl (no mixup steps: the plain StyleGAN2; paper Table 5 "none");
  no_dist  P with lambda_G = lambda_D = 0 (mixup steps and patch heads kept, no distance);
  g_only   P with the D distance off (paper Table 5 "G only");
  d_only   P with the G distance off (paper Table 5 "D only").
Cells (preset x variant x seed) run seed-major: every cell of seed 0 (all presets, the main variants, then
the ablation) before any of seed 1, so a stopped run leaves complete seeds. Each cell trains (or resumes)
WORKDIR/<preset>__<variant>_s<seed> through fsgen.train and writes its result to WORKDIR/cells/*.json
(experiments/reproduce/_common.cell): a re-run skips finished cells.

Evaluation of the EMA generator at the end (fsgen.metrics.evaluate, `n` samples unless stated):
  FID, KID  against the whole image folder the 10 shots come from (panda: all 100 pandas; anime: only
            its 10 images exist, so the reference IS the training set; FID with 10 reference images has
            a covariance of rank <= 9 and penalises diversity by construction: read KID there, whose
            unbiased estimate is meaningful at that size);
  intra-LPIPS  CDC's intra-cluster LPIPS-VGG around the 10 training images;
  LPIPS     pairwise LPIPS-VGG diversity of min(100, n) samples (MixDL Table 1's measure);
  distinct NN  distinct training images that are the LPIPS-VGG nearest neighbour of a sample (Fig. 8b);
  PPL std   std of the perceptual distances of 10 sub-intervals along min(100, n) W paths (Table 7);
  ms/step   steady training wall time per step on the shared CPU, between the first and last sample grids
            (compile and evaluation excluded; cells trained in one go only).
Outputs: WORKDIR/table.md (mean ± sample std over seeds, and which cells ran), WORKDIR/results.json, and
WORKDIR/samples_<preset>_s<seed>.png: the final sample grids of MixDL (left) and the plain twin (right)
from the same latents.
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
from PIL import Image  # noqa: E402

from experiments import configs as presets  # noqa: E402
from experiments.reproduce._common import cell, done, markdown_table, mean_spread  # noqa: E402
from fsgen import data as fsdata  # noqa: E402
from fsgen import methods, train  # noqa: E402
from fsgen import metrics as fsmetrics  # noqa: E402
from fsgen.data.info import DataInfo  # noqa: E402

# name -> (preset suffix, config overrides, table label)
VARIANTS = {
  "mixdl": ("", {}, "MixDL"),
  "plain": ("_nomixdl", {}, "plain twin (no mixup)"),
  "no_dist": ("", {"lambda_g": 0.0, "lambda_d": 0.0}, "MixDL, lambda_G = lambda_D = 0"),
  "g_only": ("", {"d_dist": False}, "G distance only"),
  "d_only": ("", {"g_dist": False}, "D distance only"),
}

# (header, metric key, digits, scale)
COLUMNS = [
  ("FID", "fid", 1, 1.0),
  ("KID x 10^3", "kid", 1, 1e3),
  ("intra-LPIPS", "intra_lpips", 3, 1.0),
  ("LPIPS", "lpips", 3, 1.0),
  ("distinct NN", "distinct_nn", 1, 1.0),
  ("PPL std", "ppl_std", 3, 1.0),
  ("ms/step", "ms_per_step", 0, 1.0),
]


def config_of(preset: str, variant: str, seed: int, steps: int):
  suffix, overrides, _ = VARIANTS[variant]
  config = presets.load(preset + suffix + (f":steps={steps}" if steps else ""))
  config.mixdl.update(overrides)
  config.seed = seed
  config.progress = False
  return config


def evaluators(config, dataset, info, n: int) -> dict:
  """The table's evaluators: FID/KID against the whole folder, the diversity measures on the 10 shots."""
  whole = dict(config.data)
  whole["shots"] = 0  # every image of the folder
  small = min(100, n)
  evals = {
    "fid": dict(type="fid", every=1, n=n, reference=whole, kid=True),
    "intra_lpips": dict(type="intra_lpips", every=1, n=n),
    "lpips": dict(type="lpips", every=1, n=small),
    "nn": dict(type="nn", every=1, n=n, space="lpips_vgg"),
    "ppl": dict(type="ppl", every=1, n=small),
  }
  return fsmetrics.build_all(evals, dataset, info)


def run_cell(preset: str, variant: str, seed: int, workdir: pathlib.Path, n: int, steps: int) -> dict:
  config = config_of(preset, variant, seed, steps)
  wd = workdir / f"{preset}__{variant}_s{seed}"
  resumed = (wd / "checkpoints").exists()
  t0 = time.time()
  result = train.train_and_evaluate(config, wd)
  train_s = time.time() - t0
  dataset = fsdata.load(config.data)
  info = DataInfo.of(dataset, config.batch_size)
  method = methods.build(config, info)
  evs = evaluators(config, dataset, info, n)
  samplers = fsmetrics.Samplers(method, evs, chunk=250)  # chunks of 250 keep memory flat at any n
  t0 = time.time()
  scores = fsmetrics.evaluate(samplers, evs, method.sampling_params(result.state), jax.random.key(1000 + seed))
  out = {k: v for values in scores.values() for k, v in values.items()}
  out.update(
    train_seconds=train_s,
    eval_seconds=time.time() - t0,
    steps=result.step,
    resumed=resumed,
    reference_images=len(fsdata.load({**config.data, "shots": 0})),
  )
  ms = ms_per_step(wd)
  if ms is not None and not resumed:
    out["ms_per_step"] = ms
  return out


def ms_per_step(wd: pathlib.Path) -> float | None:
  """Steady training speed: wall time between the first and last sample grids (written every
  sample_every steps) over the steps between them, so compilation and the final evaluation are excluded."""
  grids = sorted((wd / "samples").glob("step_*.png"))
  if len(grids) < 2:
    return None
  steps = [int(g.stem.split("_")[1]) for g in (grids[0], grids[-1])]
  return 1000 * (grids[-1].stat().st_mtime - grids[0].stat().st_mtime) / (steps[1] - steps[0])


def cells(args) -> list[tuple[str, str, int]]:
  """Seed-major order: all presets and variants of a seed before the next seed."""
  order = []
  for seed in args.seeds:
    for preset in args.presets:
      order += [(preset, v, seed) for v in args.variants]
      if seed in args.ablation_seeds:
        order += [(preset, v, seed) for v in args.ablation]
  return order


def cell_path(workdir: pathlib.Path, preset: str, variant: str, seed: int) -> pathlib.Path:
  return workdir / "cells" / f"{preset}__{variant}_s{seed}.json"


def side_by_side(workdir: pathlib.Path, preset: str, seed: int) -> pathlib.Path | None:
  """The final sample grids of MixDL (left) and the plain twin (right) of one seed, as one PNG."""
  grids = []
  for variant in ("mixdl", "plain"):
    found = sorted((workdir / f"{preset}__{variant}_s{seed}" / "samples").glob("step_*.png"))
    if not found:
      return None
    grids.append(Image.open(found[-1]).convert("RGB"))
  gap = 8
  out = Image.new("RGB", (sum(g.width for g in grids) + gap, max(g.height for g in grids)), (255, 255, 255))
  out.paste(grids[0], (0, 0))
  out.paste(grids[1], (grids[0].width + gap, 0))
  path = workdir / f"samples_{preset}_s{seed}.png"
  out.save(path)
  return path


def table(args, workdir: pathlib.Path) -> tuple[str, dict]:
  results, rows, ran, total = {}, [], 0, 0
  for preset in args.presets:
    for variant in list(args.variants) + list(args.ablation):
      seeds = args.seeds if variant in args.variants else [s for s in args.seeds if s in args.ablation_seeds]
      runs = [r for r in (done(cell_path(workdir, preset, variant, s)) for s in seeds) if r is not None]
      ran, total = ran + len(runs), total + len(seeds)
      results[f"{preset}/{variant}"] = runs
      if not runs:
        rows.append([preset, VARIANTS[variant][2]] + ["not run"] * len(COLUMNS))
        continue
      refs = {r["reference_images"] for r in runs}
      cells_ = []
      for _, key, digits, scale in COLUMNS:
        text = mean_spread([r[key] * scale for r in runs if key in r], digits)
        if key == "fid" and max(refs) <= 10:
          text = f"({text})"  # the reference is the 10 training images: not a meaningful FID
        cells_.append(text)
      rows.append([preset, VARIANTS[variant][2]] + cells_)
  header = ["preset", "variant"] + [c[0] for c in COLUMNS]
  note = (
    f"\ncells ran: {ran} of {total}. Mean ± sample std (n = seeds). FID and KID (lower is better) of {args.n} "
    "samples against the whole folder (panda: 100 images; anime: only its 10 training images exist, so its "
    "FID, in parentheses, has a rank-9 covariance and is not meaningful: read KID). intra-LPIPS, LPIPS and "
    "distinct NN (of 10) are diversity (higher is better); PPL std is interpolation smoothness (lower is "
    "better); ms/step is the steady training time per step on the shared 2-core CPU.\n"
  )
  return markdown_table(header, rows) + "\n" + note, results


def main():
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument("--seeds", default="0,1,2")
  p.add_argument("--presets", default="mixdl_panda10_cpu,mixdl_anime10_cpu")
  p.add_argument("--variants", default="plain,mixdl", help="variants run for every seed")
  p.add_argument("--ablation", default="no_dist,g_only,d_only", help="variants run for --ablation_seeds only")
  p.add_argument("--ablation_seeds", default="0")
  p.add_argument("--workdir", default="runs/reproduce_mixdl")
  p.add_argument("--n", type=int, default=500, help="samples for FID, KID, intra-LPIPS and distinct NN")
  p.add_argument("--steps", type=int, default=0, help="override the presets' step count (0 = theirs)")
  p.add_argument("--table_only", action="store_true", help="write the table of the finished cells, run nothing")
  a = p.parse_args()
  split = lambda s: [x for x in s.split(",") if x]
  a.seeds, a.ablation_seeds = [int(s) for s in split(a.seeds)], [int(s) for s in split(a.ablation_seeds)]
  a.presets, a.variants, a.ablation = split(a.presets), split(a.variants), split(a.ablation)
  unknown = [v for v in a.variants + a.ablation if v not in VARIANTS]
  if unknown:
    raise SystemExit(f"unknown variants {', '.join(unknown)} (known: {', '.join(VARIANTS)})")
  workdir = pathlib.Path(a.workdir)
  workdir.mkdir(parents=True, exist_ok=True)

  def write_outputs():
    text, results = table(a, workdir)
    (workdir / "results.json").write_text(json.dumps(results, indent=1))
    (workdir / "table.md").write_text(text)
    return text

  if not a.table_only:
    for preset, variant, seed in cells(a):
      cell(cell_path(workdir, preset, variant, seed), lambda: run_cell(preset, variant, seed, workdir, a.n, a.steps))
      side_by_side(workdir, preset, seed)
      write_outputs()  # the partial table after every cell
  for preset in a.presets:
    for seed in a.seeds:
      side_by_side(workdir, preset, seed)
  print(write_outputs())


if __name__ == "__main__":
  main()
