"""The `quickstart` preset on the 10-shot sets a user would bring: distinct nearest neighbours per set.

  python experiments/reproduce/quickstart_robustness.py [--variants preset] [--seeds 0]
                                                        [--sets all] [--workdir runs/quickstart_robustness]

Each set is written as a folder of 10 PNGs (as a user's own images are) and the preset is trained on it
with `--config.data.source=folder:DIR` and `data.channels` of the images (1 for greyscale, 3 for colour);
the built-in 8x8 digits run as the preset ships. The `nn` evaluator of the preset (pixel space, 256 EMA
samples) gives `distinct_nn` at step 1,000 and at the end (2,000; 4,000 for steps4k): how many of the
10 training images are the nearest neighbour of some sample (10 = every mode present; 1 = collapse to one
mode), and `spread_ratio` at the end: the samples' mean pairwise pixel distance over the training
images' (~0 = one mode, ~1 = as varied as the training set; it separates collapse from blurred samples
that share a nearest neighbour), and `fidelity_ratio` at the end: the samples' mean distance to their
nearest training image over the training images' mean distance to their nearest other one (~1 = as close
to the data as its own images are to each other; well above 1 with spread above 1 = noise, not modes).

Sets (all from ../shared/data, 10 images each):
  digits        scikit-learn's 8x8 digits, one per class (the preset's own data)
  mnist_sS      MNIST test digits, one per class, subset seed S (the held-out 28 px digits of issue 16)
  fmnist_sS     Fashion-MNIST test articles, one per class, subset seed S
  fmnist_cK     Fashion-MNIST test, ten of class K (0 T-shirt, 5 sandal, 8 bag)
  omniglot_chars  ten Omniglot characters (small1), one drawing each
  omniglot_one  one Omniglot character, ten drawers
  anime10       the 10-shot anime faces (colour)
  panda_sS      ten of the 100-shot Panda photos, subset seed S (colour)
Variants (`--variants`): `preset` is the preset as committed; others are named config overrides (VARIANTS)
used to find and check a fix. A cell (set x variant x seed) is resumable: WORKDIR/cells/<cell>.json.
It writes WORKDIR/table.md and prints it.
"""

import argparse
import gzip
import io
import pathlib
import sys
import time
import zipfile

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from experiments import configs as presets  # noqa: E402
from experiments.reproduce._common import cell, done, markdown_table, mean_spread, set_dotted  # noqa: E402

# Named config overrides (dotted key -> value) tried against the preset; `preset` is the committed one
# (R1 gamma 10 since issue 16, MSGAN's mode-seeking term at weight 0.01 since session 12: ms0.01 is the
# preset). The variants screened before session 12 were overrides of the R1-only preset, so they keep
# mode_seeking 0 (R1_ONLY) and their committed cells stay what they measured; r1_only is that preset.
# no_r1 is the preset before issue 16; mbstd adds the DCGAN discriminator's minibatch-stddev channel
# (group 4). Session 7: ema99 (a faster EMA generator: 0.999 over 2,000 steps still averages in the early
# weights), w64 (the gan method's default width), no_color (DiffAugment without its colour jitter),
# steps4k (twice as long); session 8: ema_ramp (StyleGAN2-ADA's EMA ramp-up, rampup 0.05: half-life
# min(693, 0.05 * step) steps). Session 12: w64 collapsed too (omniglot_chars 3 -> 2, fmnist_c0 1 -> 1)
# and showed the raw G mapping every z to one training character while D sat at chance, so MSGAN's
# mode-seeking term (Mao et al. 2019): ms1 (its weight 1) drew noise on omniglot_chars (spread 1.74,
# fidelity 1.85: 10 distinct NN from samples unlike any character); the term grows as 1 / ratio, so a
# small weight still stops a full collapse (ratio -> 0) and leaves G's adversarial gradient in charge at
# the data's own variety (ratio ~0.1 on Omniglot): ms0.1 (spread 1.25, fidelity 1.28) and ms0.01
# (spread 1.00, fidelity 0.99, 9 distinct NN), the one adopted.
R1_ONLY = {"gan.mode_seeking": 0.0}
VARIANTS = {
  "preset": {},
  "r1_only": R1_ONLY,
  "no_r1": {**R1_ONLY, "gan.r1_gamma": 0.0},
  "r1_0.1": {**R1_ONLY, "gan.r1_gamma": 0.1},
  "r1_1": {**R1_ONLY, "gan.r1_gamma": 1.0},
  "mbstd": {**R1_ONLY, "model.D.mbstd_group": 4},
  "mbstd_r1_1": {**R1_ONLY, "gan.r1_gamma": 1.0, "model.D.mbstd_group": 4},
  "ema99": {**R1_ONLY, "gan.ema_decay": 0.99},
  "w64": {**R1_ONLY, "model.G.width": 64, "model.D.width": 64},
  "no_color": {**R1_ONLY, "gan.diffaug": "translation,cutout"},
  "steps4k": {**R1_ONLY, "total_steps": 4000},
  "ema_ramp": {**R1_ONLY, "gan.ema_rampup": 0.05},
  "ms1": {"gan.mode_seeking": 1.0},
  "ms1_ramp": {"gan.mode_seeking": 1.0, "gan.ema_rampup": 0.05},
  "ms0.1": {"gan.mode_seeking": 0.1},
  "ms0.01": {"gan.mode_seeking": 0.01},
}

SETS = [
  "digits",
  "mnist_s0",
  "mnist_s1",
  "mnist_s2",
  "fmnist_s0",
  "fmnist_s1",
  "fmnist_c0",
  "fmnist_c5",
  "fmnist_c8",
  "omniglot_chars",
  "omniglot_one",
  "anime10",
  "panda_s0",
  "panda_s1",
]


def _idx(path: pathlib.Path, offset: int) -> np.ndarray:
  return np.frombuffer(gzip.open(path).read(), np.uint8, offset=offset)


def _pick_one_per_class(labels: np.ndarray, seed: int) -> np.ndarray:
  rng = np.random.default_rng(seed)
  return np.array([rng.choice(np.flatnonzero(labels == c)) for c in range(10)])


def set_images(name: str) -> list[np.ndarray]:
  """The 10 images (uint8 HxW or HxWx3) of the named set."""
  data = presets.shared_data()
  kind, _, arg = name.partition("_")
  if kind in ("mnist", "fmnist"):
    folder = data / ("mnist" if kind == "mnist" else "fashion_mnist")
    images = _idx(folder / "t10k-images-idx3-ubyte.gz", 16).reshape(-1, 28, 28)
    labels = _idx(folder / "t10k-labels-idx1-ubyte.gz", 8)
    if arg.startswith("s"):
      idx = _pick_one_per_class(labels, int(arg[1:]))
    else:
      members = np.flatnonzero(labels == int(arg[1:]))
      idx = np.random.default_rng(0).choice(members, 10, replace=False)
    return [images[i] for i in idx]
  if kind == "omniglot":
    with zipfile.ZipFile(data / "omniglot" / "images_background_small1.zip") as zf:
      names = sorted(n for n in zf.namelist() if n.endswith(".png"))
      chars = sorted({n.rsplit("/", 1)[0] for n in names})
      rng = np.random.default_rng(0)
      if arg == "chars":
        picked = [sorted(n for n in names if n.startswith(c + "/"))[0] for c in rng.choice(chars, 10, replace=False)]
      else:  # one character (drawn once, not per file name), its first ten drawers
        char = chars[int(rng.integers(len(chars)))]
        picked = sorted(n for n in names if n.startswith(char + "/"))[:10]
      return [np.asarray(Image.open(io.BytesIO(zf.read(n))).convert("L")) for n in picked]
  if kind in ("anime10", "panda"):
    files = sorted((data / ("anime10" if kind == "anime10" else "panda100") / "img").glob("*"))
    if kind == "panda":
      files = [files[i] for i in np.sort(np.random.default_rng(int(arg[1:])).choice(len(files), 10, replace=False))]
    return [np.asarray(Image.open(f).convert("RGB")) for f in files]
  raise ValueError(f"unknown set {name!r} (known: {', '.join(SETS)})")


def write_set(name: str, folder: pathlib.Path) -> int:
  """Writes the set's PNGs to `folder` (once); returns its channel count."""
  images = set_images(name)
  folder.mkdir(parents=True, exist_ok=True)
  for i, im in enumerate(images):
    path = folder / f"{i:02d}.png"
    if not path.exists():
      Image.fromarray(im).save(path)
  return 3 if images[0].ndim == 3 else 1


def run_cell(set_name: str, variant: str, seed: int, workdir: pathlib.Path, steps: int) -> dict:
  from fsgen import train  # pylint: disable=import-outside-toplevel

  c = presets.load("quickstart")
  if set_name != "digits":
    channels = write_set(set_name, workdir / "sets" / set_name)
    c.data.source = f"folder:{workdir / 'sets' / set_name}"
    c.data.channels = channels
    c.data.shots, c.data.per_class, c.data.labels = 0, False, False
  for key, value in VARIANTS[variant].items():
    set_dotted(c, key, value)
  c.seed = seed
  c.progress = False
  if steps:
    c.total_steps = steps
  run_dir = workdir / "runs" / f"{set_name}_{variant}_s{seed}"
  t0 = time.time()
  train.train_and_evaluate(c, run_dir)
  seconds = time.time() - t0
  import json  # pylint: disable=import-outside-toplevel

  lines = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
  nn = {r["step"]: r["nn/distinct_nn"] for r in lines if "nn/distinct_nn" in r}
  spread = {r["step"]: r["nn/spread_ratio"] for r in lines if "nn/spread_ratio" in r}
  fidelity = {r["step"]: r["nn/fidelity_ratio"] for r in lines if "nn/fidelity_ratio" in r}
  return {
    "distinct_nn": {str(k): v for k, v in sorted(nn.items())},
    "spread_ratio": {str(k): v for k, v in sorted(spread.items())},
    "fidelity_ratio": {str(k): v for k, v in sorted(fidelity.items())},
    "seconds": seconds,
    "run_dir": str(run_dir),
  }


def montage(workdir: pathlib.Path, sets: list[str], variant: str, seed: int, n: int = 10) -> pathlib.Path | None:
  """WORKDIR/montage_<variant>.png: per finished set a row of its 10 training images (as the run saw them)
  then n EMA samples of the final generator, at 2x; colour for every row."""
  import json  # pylint: disable=import-outside-toplevel

  import ml_collections  # pylint: disable=import-outside-toplevel

  from fsgen import data, grid, sample  # pylint: disable=import-outside-toplevel

  rows = []
  for s in sets:
    run = workdir / "runs" / f"{s}_{variant}_s{seed}"
    if not (workdir / "cells" / f"{s}_{variant}_s{seed}.json").exists():
      continue
    cfg = ml_collections.ConfigDict(json.loads((run / "config.json").read_text()))
    real = data.to_float(data.load(cfg.data).images)
    fake = np.asarray(sample.sample(workdir=str(run), n=n, seed=seed))
    row = np.concatenate([real[:10], fake])
    rows.append(np.repeat(row, 3, axis=-1) if row.shape[-1] == 1 else row)
  if not rows:
    return None
  return grid.save_grid(np.concatenate(rows), workdir / f"montage_{variant}.png", nrow=10 + n, upscale=2)


def main():
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument("--sets", default="all")
  p.add_argument("--variants", default="preset")
  p.add_argument("--seeds", default="0")
  p.add_argument("--steps", type=int, default=0, help="override total steps (0: the preset's)")
  p.add_argument("--workdir", default="runs/quickstart_robustness")
  p.add_argument("--table-only", action="store_true", help="print the table of finished cells, run nothing")
  p.add_argument("--montage", action="store_true", help="also write WORKDIR/montage_<variant>.png of finished sets")
  a = p.parse_args()
  sets = SETS if a.sets == "all" else a.sets.split(",")
  variants = a.variants.split(",")
  unknown = [v for v in variants if v not in VARIANTS]
  if unknown:
    sys.exit(f"error: unknown variant {unknown[0]!r} (known: {', '.join(VARIANTS)})")
  seeds = [int(s) for s in a.seeds.split(",")]
  workdir = pathlib.Path(a.workdir)
  cells = [(s, v, seed) for s in sets for v in variants for seed in seeds]
  for s, v, seed in cells:
    path = workdir / "cells" / f"{s}_{v}_s{seed}.json"
    if a.table_only:
      continue
    r = cell(path, lambda s=s, v=v, seed=seed: run_cell(s, v, seed, workdir, a.steps))
    print(f"{s} {v} seed {seed}: distinct NN {r['distinct_nn']} in {r['seconds']:.0f} s", flush=True)
  rows, ran, secs = [], 0, []
  for s in sets:
    row = [s]
    for v in variants:
      results = [done(workdir / "cells" / f"{s}_{v}_s{seed}.json") for seed in seeds]
      results = [r for r in results if r]
      ran += len(results)
      secs += [r["seconds"] for r in results]
      # step 1,000 and the run's last evaluation (2,000 for the preset, 4,000 for steps4k)
      first = [r["distinct_nn"].get("1000") for r in results]
      last = [r["distinct_nn"][max(r["distinct_nn"], key=int)] for r in results]
      # cells from before session 8 have no spread_ratio: n/a
      spread = [r["spread_ratio"][max(r["spread_ratio"], key=int)] for r in results if r.get("spread_ratio")]
      # cells from before session 12 have no fidelity_ratio: n/a
      fid = [r["fidelity_ratio"][max(r["fidelity_ratio"], key=int)] for r in results if r.get("fidelity_ratio")]
      cols = [mean_spread(first, 1), mean_spread(last, 1), mean_spread(spread, 2), mean_spread(fid, 2)]
      row += cols if results else ["not run"] * 4
    rows.append(row)
  header = ["set"] + [f"{v} {k}" for v in variants for k in ("NN @1k", "NN @end", "spread @end", "fidelity @end")]
  table = markdown_table(header, rows)
  note = f"cells ran: {ran} of {len(cells)}; training s per run: {mean_spread(secs, 0)}"
  (workdir / "table.md").parent.mkdir(parents=True, exist_ok=True)
  (workdir / "table.md").write_text(table + "\n\n" + note + "\n")
  print(table)
  print(note)
  if a.montage:
    for v in variants:
      print("montage:", montage(workdir, sets, v, seeds[0]))


if __name__ == "__main__":
  main()
