"""Reproduces AugIntAE's comparison (paper Tables 1-2) on Omniglot at CPU scale: AugIntAE vs IntAE vs AE.

  python experiments/reproduce/augintae.py [--presets augintae_omniglot_cpu,intae_omniglot_cpu,ae_omniglot_cpu]
      [--seeds 0] [--workdir runs/reproduce_augintae] [--n 2208] [--shots 6] [--epochs 0]
      [--set model.upsample=subpixel ...]

Train domain: Omniglot background_small1 (the presets' data). Novel domain: the alphabets of
background_small2 that small1 lacks (Japanese katakana, Sanskrit, Tagalog: 106 characters, 2,120
images; Greek and Latin are in both, see ../shared/data/README.md). For every seed (outer loop) and
preset it trains (or resumes) WORKDIR/<preset>_s<seed> through fsgen.train, then measures:
  recon train / novel  per-pixel RMS reconstruction error G(E(x)) - x on the 0..255 scale, over all
                       train-domain and all novel images (Table 1's generalisation test);
  FID / KID            few-shot generation (Table 2): `shots` seed images per novel character (chosen by
                       the seed); each path is a random character, a random pair of its seeds and the
                       preset's augintae.path_alphas (0.25, 0.5, 0.75: 3 evenly spaced points per path);
                       n images in all (default 2,208 = 736 paths, above the 2,000 the FID bias needs at
                       the paper's few-point gaps), against all 2,120 novel images; through
                       fsgen.metrics.evaluate with the fid evaluator (kid=True: clean-fid's 100 subsets
                       of 1,000);
  domain error         % of the same generated images that a train-vs-novel classifier (the encoder's
                       architecture with batch norm, 2 outputs, trained on 80% of both real sets) calls
                       train-domain (lower is better); its held-out accuracy on real images is reported.
Two reference rows use the same characters, pairs and alphas (the same key): "pixel fade"
(alpha x_i + (1 - alpha) x_j in image space, the paper's figures' baseline) and "real novel" (FID/KID
between two halves of the novel set, 1,060 vs 1,060 images: the floor at about this sample size; the
domain error of the held-out real novel images).
Each (seed, row) is a resumable cell (WORKDIR/cells/<row>_s<seed>.json); finished cells are read back,
so a stopped script re-run with the same arguments continues. Per model cell it also writes
WORKDIR/<preset>_s<seed>_novel.png: rows of novel characters, each `shots` seeds then generations.
Writes WORKDIR/table.md (mean ± sample std over the seeds that ran; cells ran: k of n) and prints it, and
WORKDIR/traces.md: k, margin, D(real), D(fake) and reconstruction loss every 500 steps of each run.
--set KEY=VALUE (repeatable) overrides a config key of every preset, typed as the key's value (the
session-9 table: --set model.upsample=subpixel); the overrides are kept in WORKDIR/overrides.json and a
workdir refuses different ones, so cells of two settings never share a table.
Reduced form for tests: --classes 3 --n 48 --inception_size 75 --domain_steps 3 with `:test` presets.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
  sys.path.insert(0, str(ROOT))
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(pathlib.Path.home() / ".cache" / "fsgen-jax-cache"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "1")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

from experiments.configs import load, shared_data  # noqa: E402
from experiments.reproduce._common import cell, done, markdown_table, mean_spread, parse_set, set_dotted  # noqa: E402
from fsgen import methods, metrics, train  # noqa: E402
from fsgen.data.info import DataInfo  # noqa: E402
from fsgen.data.preprocess import prepare_images, to_float  # noqa: E402
from fsgen.data.sources import read_omniglot  # noqa: E402
from fsgen.grid import save_grid  # noqa: E402
from fsgen.methods import augintae  # noqa: E402
from fsgen.metrics import (
  classifier,  # noqa: E402
  inception,  # noqa: E402
)
from fsgen.metrics import fid as fid_lib  # noqa: E402
from fsgen.metrics import kid as kid_lib  # noqa: E402
from fsgen.nets.autoencoder import InfoGANEncoder  # noqa: E402

PRESETS = "augintae_omniglot_cpu,intae_omniglot_cpu,ae_omniglot_cpu"
REFERENCE_ROWS = ("pixel fade", "real novel")


class Images:
  """The `dataset` an Inception evaluator takes: uint8 images [N, H, W, C] (here the novel set)."""

  def __init__(self, images: np.ndarray):
    self.images = images


def load_domains(resolution: int = 28, classes: int = 0):
  """(train images uint8 [N1, R, R, 1], novel images [N2, R, R, 1], novel character labels [N2]);
  `classes` > 0 keeps only the first that many novel characters (the reduced form)."""
  small1, small2 = (read_omniglot(str(shared_data("omniglot", f"images_background_small{k}.zip"))) for k in (1, 2))
  seen = {name.split("/")[0] for name in small1.class_names}
  keep = [i for i, lab in enumerate(small2.labels) if small2.class_names[lab].split("/")[0] not in seen]
  _, labels = np.unique(small2.labels[keep], return_inverse=True)
  if classes:
    keep, labels = [i for i, lab in zip(keep, labels) if lab < classes], labels[labels < classes]
  prep = lambda raw, idx: prepare_images(
    [raw.images[i] for i in idx], [raw.names[i] for i in idx], resolution=resolution, channels=1
  )
  return prep(small1, range(len(small1.images))), prep(small2, keep), labels.astype(np.int32)


def seed_images(labels: np.ndarray, shots: int, seed: int) -> np.ndarray:
  """Indices [C, shots] into the novel set: `shots` distinct images of every novel character."""
  rng = np.random.default_rng(seed)
  return np.stack([rng.choice(np.flatnonzero(labels == c), shots, replace=False) for c in np.unique(labels)])


def few_shot_pairs(key, num_classes: int, shots: int, n: int, alphas):
  """(class [n], i [n], j [n], alpha [n]): n / len(alphas) paths, each a random class and a random pair
  i != j of its seeds, with the points `alphas` on each (augintae.random_paths)."""
  kc, kp = jax.random.split(key)
  i, j, alpha = augintae.random_paths(kp, shots, n, alphas)
  c = jnp.repeat(jax.random.randint(kc, (n // len(alphas),), 0, num_classes), len(alphas))
  return c, i, j, alpha


class FewShot:
  """The paper's few-shot sampler over novel classes, in the shape fsgen.metrics.Samplers expects.

  sample(params, key, n): params = {"model": the method's sampling params (None for pixel fade),
  "seeds": float [C, shots, H, W, 1]}; returns [n, H, W, 1] in [-1, 1]. The same key gives the same
  classes, pairs and alphas for every model and for pixel fade.
  """

  def __init__(self, method, alphas, name: str):
    self.method, self.alphas = method, tuple(float(a) for a in alphas)
    self.config = {"method": name}
    self.info = getattr(method, "info", None)  # Samplers check the images' shape against it

  def sample(self, params, key, n: int):
    seeds = params["seeds"]
    c, i, j, alpha = few_shot_pairs(key, seeds.shape[0], seeds.shape[1], n, self.alphas)
    xa, xb = seeds[c, i], seeds[c, j]
    if self.method is None:  # pixel fade: alpha x_i + (1 - alpha) x_j
      return alpha[:, None, None, None] * xa + (1.0 - alpha[:, None, None, None]) * xb
    both = jnp.concatenate([xa, xb])
    return self.method.decode_paths(params["model"], both, jnp.arange(n), n + jnp.arange(n), alpha)


class DomainError:
  """An evaluator: % of n generated images a train-vs-novel classifier calls train domain.

  It draws the images exactly as the Inception evaluators do (sample_fn(fold_in(key, i), batch)), so
  under fsgen.metrics.evaluate it scores the very images FID and KID saw."""

  def __init__(self, predict, n: int, batch: int):
    self.predict, self.n, self.batch = predict, n, batch

  def run(self, sample_fn, key) -> dict[str, float]:
    chunks = [np.asarray(sample_fn(jax.random.fold_in(key, i), self.batch)) for i in range(-(-self.n // self.batch))]
    p_train = np.asarray(self.predict(jnp.asarray(np.concatenate(chunks)[: self.n])))
    return {"domain_error": 100.0 * float(np.mean(p_train > 0.5))}


def domain_classifier(train_images, novel_images, seed: int, steps: int = 1500, batch: int = 128):
  """A train (0) vs novel (1) classifier with the encoder's architecture (batch norm, 2 outputs; paper
  A.1), trained by fsgen.metrics.classifier on 80% of each set with Adam 1e-3, batches half train, half
  novel. Returns (predict: float images [B, R, R, 1] -> P(train domain) [B] with the running averages,
  held-out accuracy on real images, indices into the novel set of its held-out novel images)."""
  rng = np.random.default_rng(seed)
  split = [rng.permutation(len(x)) for x in (train_images, novel_images)]
  cuts = [int(0.8 * len(x)) for x in (train_images, novel_images)]
  pools = [
    (x[order[:cut]], np.full(cut, label, np.int32))
    for label, (x, order, cut) in enumerate(zip((train_images, novel_images), split, cuts))
  ]
  clf = classifier.train(
    jax.random.key(seed), InfoGANEncoder(out=2, unit=False), pools, steps=steps, batch_size=batch, tx=optax.adam(1e-3)
  )
  held_train, held_novel = train_images[split[0][cuts[0] :]], novel_images[split[1][cuts[1] :]]
  held = np.concatenate([held_train, held_novel])
  labels = np.concatenate([np.zeros(len(held_train), np.int32), np.ones(len(held_novel), np.int32)])
  predict = lambda images: jax.nn.softmax(clf.logits(np.asarray(images)))[:, 0]
  return predict, classifier.accuracy(clf, held, labels), split[1][cuts[1] :]


def rms_255(a, b) -> float:
  return float(np.sqrt(np.mean(np.square(np.asarray(a, np.float64) - np.asarray(b, np.float64)))) * 127.5)


class Context:
  """What every cell of one seed shares: the domains, the seed images, the classifier and evaluators."""

  def __init__(self, args, domains, seed: int, alphas):
    self.args, self.seed, self.alphas = args, seed, tuple(alphas)
    self.train_images, self.novel, self.labels = domains
    self.seeds = seed_images(self.labels, args.shots, seed)  # [C, shots]
    self.seed_floats = to_float(jnp.asarray(self.novel[self.seeds]))
    self.predict, self.clf_accuracy, self.held_out_novel = domain_classifier(
      self.train_images, self.novel, seed, args.domain_steps
    )
    batch = 16 * len(self.alphas)  # whole paths per sampler call: 48 images
    self.evaluators = {
      "fid": fid_lib.Evaluator(Images(self.novel), n=args.n, size=args.inception_size, batch=batch, kid=True),
      "domain": DomainError(self.predict, args.n, batch),
    }
    self.key = jax.random.fold_in(jax.random.key(seed), 7)

  def evaluate(self, sampler: FewShot, model_params) -> dict:
    params = {"model": model_params, "seeds": self.seed_floats}
    results = metrics.evaluate(metrics.Samplers(sampler, self.evaluators), self.evaluators, params, self.key)
    return {**results["fid"], **results["domain"], "domain_clf_accuracy": self.clf_accuracy}


def preset_spec(preset: str, epochs: int) -> str:
  if not epochs:
    return preset
  return f"{preset},epochs={epochs}" if ":" in preset else f"{preset}:epochs={epochs}"


def model_cell(ctx: Context, preset: str, workdir: pathlib.Path) -> dict:
  wd = workdir / f"{preset.replace(':', '_')}_s{ctx.seed}"
  config = load(preset_spec(preset, ctx.args.epochs))
  for key, value in ctx.args.overrides.items():
    set_dotted(config, key, value)
  config.seed, config.progress = ctx.seed, False
  result = train.train_and_evaluate(config, wd)
  method = methods.build(config, DataInfo.read(wd / "data_info.json"))
  params = method.sampling_params(result.state)
  recon = jax.jit(method.reconstruct)
  rec = lambda imgs: np.concatenate(
    [np.asarray(recon(params, to_float(jnp.asarray(imgs[k : k + 500])))) for k in range(0, len(imgs), 500)]
  )
  t0 = time.time()
  out = {
    "train_seconds": result.seconds,
    "steps": result.step,
    "recon_train": rms_255(rec(ctx.train_images), to_float(ctx.train_images)),
    "recon_novel": rms_255(rec(ctx.novel), to_float(ctx.novel)),
    **ctx.evaluate(FewShot(method, ctx.alphas, preset), params),
  }
  out["eval_seconds"] = time.time() - t0
  write_novel_grid(method, params, ctx, workdir / f"{preset.replace(':', '_')}_s{ctx.seed}_novel.png")
  return out


def write_novel_grid(method, params, ctx: Context, path: pathlib.Path, rows: int = 8, per_row: int = 6):
  """Rows of novel characters (spread over the set): the `shots` seeds, then per_row generations (random
  pairs, alpha ~ U(0, 1); the same pairs and alphas for every model). Writes the PNG and the generations
  [rows, per_row, H, W, 1] beside it (.npy) for `comparison_grid`."""
  gen = jax.jit(method.generate, static_argnums=3)
  out = np.stack(
    [
      np.asarray(gen(params, jax.random.fold_in(ctx.key, 1000 + r), ctx.seed_floats[c], per_row))
      for r, c in enumerate(grid_classes(ctx))
    ]
  )
  np.save(path.with_suffix(".npy"), out)
  seeds = np.asarray(ctx.seed_floats[grid_classes(ctx)])
  save_grid(np.concatenate([seeds, out], 1).reshape(-1, *out.shape[2:]), path, nrow=seeds.shape[1] + per_row)


def grid_classes(ctx: Context, rows: int = 8) -> np.ndarray:
  return np.linspace(0, len(ctx.seeds) - 1, min(rows, len(ctx.seeds))).astype(int)


def comparison_grid(ctx: Context, workdir: pathlib.Path, presets: list[str]) -> pathlib.Path | None:
  """WORKDIR/novel_s<seed>.png: per row one novel character, its seeds, then the generations of each
  preset in order (a black column between blocks); None until every preset's grid exists."""
  paths = [workdir / f"{p.replace(':', '_')}_s{ctx.seed}_novel.npy" for p in presets]
  if not all(path.exists() for path in paths):
    return None
  blocks = [np.asarray(ctx.seed_floats[grid_classes(ctx)])] + [np.load(path) for path in paths]
  gap = -np.ones_like(blocks[0][:, :1])
  row = np.concatenate([x for b in blocks for x in (b, gap)][:-1], 1)
  return save_grid(row.reshape(-1, *row.shape[2:]), workdir / f"novel_s{ctx.seed}.png", nrow=row.shape[1], upscale=2)


def reference_cell(ctx: Context, name: str) -> dict:
  if name == "pixel fade":
    return ctx.evaluate(FewShot(None, ctx.alphas, "pixel_fade"), None)
  feats = ctx.evaluators["fid"].reference()
  half = np.random.default_rng(ctx.seed).permutation(len(feats))
  a, b = half[: len(half) // 2], half[len(half) // 2 :]
  held_out = to_float(jnp.asarray(ctx.novel[ctx.held_out_novel]))
  return {
    "fid": fid_lib.fid_from_features(feats[a], feats[b]),
    "kid": kid_lib.kernel_inception_distance(feats[a], feats[b], 100, 1000),
    "domain_error": 100.0 * float(np.mean(np.asarray(ctx.predict(held_out)) > 0.5)),
    "domain_clf_accuracy": ctx.clf_accuracy,
  }


COLUMNS = (
  ("recon train", "recon_train", 2),
  ("recon novel", "recon_novel", 2),
  ("FID", "fid", 2),
  ("KID x 1000", "kid", 2),
  ("domain error %", "domain_error", 1),
  ("train min", "train_seconds", 0),
)


def cell_path(cells: pathlib.Path, row: str, seed: int) -> pathlib.Path:
  """CELLS/<row>_s<seed>.json, with spaces and colons of the row's name as underscores."""
  return cells / f"{row.replace(' ', '_').replace(':', '_')}_s{seed}.json"


def table(cells: pathlib.Path, rows: list[str], seeds: list[int]) -> str:
  """Mean ± sample std over the seeds whose cell finished; KID is shown x 1000."""
  body, ran = [], 0
  for row in rows:
    results = [r for s in seeds if (r := done(cell_path(cells, row, s)))]
    ran += len(results)
    scale = {"kid": 1000.0, "train_seconds": 1 / 60}
    cols = [mean_spread([r[k] * scale.get(k, 1.0) for r in results if k in r], d) for _, k, d in COLUMNS]
    body.append([row, *(cols if results else ["not run"] * len(cols))])
  # one classifier per seed; every cell of that seed records its held-out accuracy
  per_seed = [[r for row in rows if (r := done(cell_path(cells, row, s)))] for s in seeds]
  acc = [rs[0]["domain_clf_accuracy"] for rs in per_seed if rs and "domain_clf_accuracy" in rs[0]]
  note = (
    f"\n\nrecon: RMS per pixel on 0..255; FID, KID, domain error: lower is better. Cells ran: {ran} of "
    f"{len(rows) * len(seeds)} (seeds {', '.join(map(str, seeds))}). Domain classifier held-out accuracy on "
    f"real images: {mean_spread([100 * a for a in acc], 1, unit='%')}.\n"
  )
  return markdown_table(["model", *(c for c, _, _ in COLUMNS)], body) + note


TRACE_KEYS = (
  ("k", "AE/k"),
  ("margin", "AE/margin"),
  ("D(real)", "AE/d_real"),
  ("D(fake)", "AE/d_fake"),
  ("recon L1", "AE/recon"),
)


def traces(workdir: pathlib.Path, presets: list[str], seeds: list[int], every: int = 500) -> str:
  """The adaptive k rule's trace per trained run (A.1): k, the margin D(real) - D(fake), D's outputs on
  real and generated images and the reconstruction loss, every `every` steps and at the last logged step,
  read from WORKDIR/<preset>_s<seed>/metrics.jsonl or its committed copy WORKDIR/<preset>_s<seed>_metrics.jsonl
  (experiments/reproduce/results/augintae/); runs with neither are left out."""
  out = []
  for preset in presets:
    for s in seeds:
      run = f"{preset.replace(':', '_')}_s{s}"
      path = workdir / run / "metrics.jsonl"
      path = path if path.exists() else workdir / f"{run}_metrics.jsonl"
      if not path.exists():
        continue
      logged = [r for r in map(json.loads, path.read_text().splitlines()) if "AE/recon" in r]
      keep = [r for r in logged if r["step"] % every == 0 or r is logged[-1]]
      rows = [[r["step"], *(f"{r[k]:.3f}" if k in r else "n/a" for _, k in TRACE_KEYS)] for r in keep]
      out.append(f"{preset}, seed {s}\n\n" + markdown_table(["step", *(n for n, _ in TRACE_KEYS)], rows))
  return "\n\n".join(out) + "\n"


def keep_overrides(workdir: pathlib.Path, overrides: dict) -> None:
  """Writes WORKDIR/overrides.json, or exits naming it when it holds other overrides (a workdir's cells
  share one setting)."""
  path = workdir / "overrides.json"
  if path.exists():
    kept = json.loads(path.read_text())
    if kept != overrides:
      sys.exit(f"{path} holds overrides {kept}, not {overrides}: use another --workdir or the same --set")
    return
  workdir.mkdir(parents=True, exist_ok=True)
  path.write_text(json.dumps(overrides, indent=1))


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument("--presets", default=PRESETS)
  p.add_argument("--seeds", default="0")
  p.add_argument("--workdir", default="runs/reproduce_augintae")
  p.add_argument("--n", type=int, default=2208, help="generated images (a multiple of 48: whole paths per call)")
  p.add_argument("--shots", type=int, default=6, help="seed images per novel character")
  p.add_argument("--epochs", type=int, default=0, help="override the presets' 100 epochs (0 = theirs)")
  p.add_argument("--classes", type=int, default=0, help="only the first N novel characters (reduced form)")
  p.add_argument("--inception_size", type=int, default=inception.FID_SIZE, help="299 = the FID protocol")
  p.add_argument("--domain_steps", type=int, default=1500, help="steps of the domain classifier")
  p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key")
  a = p.parse_args(argv)
  if a.n % 48:
    p.error(f"--n {a.n} must be a multiple of 48 (16 whole paths of 3 points per sampler call)")
  if not shared_data("omniglot").exists():
    sys.exit(f"{shared_data('omniglot')} is absent: this reproduction needs ../shared/data/omniglot")
  workdir, presets, seeds = pathlib.Path(a.workdir), a.presets.split(","), [int(s) for s in a.seeds.split(",")]
  try:
    a.overrides = dict(parse_set(item, load(preset_spec(presets[0], a.epochs))) for item in a.set)
  except ValueError as e:
    p.error(str(e))
  keep_overrides(workdir, a.overrides)
  cells = workdir / "cells"
  domains = load_domains(classes=a.classes)
  print(f"train domain {len(domains[0])} images, novel {len(domains[1])} ({len(np.unique(domains[2]))} chars)")
  rows = presets + list(REFERENCE_ROWS)
  alphas = load(presets[0]).augintae.path_alphas
  for s in seeds:  # seed-major: every row of seed 0 before any of seed 1
    names = {row: cell_path(cells, row, s) for row in rows}
    if all(path.exists() for path in names.values()):
      continue
    ctx = Context(a, domains, s, alphas)
    for preset in presets:
      print(preset, s, cell(names[preset], lambda: model_cell(ctx, preset, workdir)), flush=True)
    for name in REFERENCE_ROWS:
      print(name, s, cell(names[name], lambda: reference_cell(ctx, name)), flush=True)
    print("grid", comparison_grid(ctx, workdir, presets))
  command = "python experiments/reproduce/augintae.py " + " ".join(argv if argv is not None else sys.argv[1:])
  text = f"`{command.strip()}`\n\n" + table(cells, rows, seeds)
  (workdir / "table.md").write_text(text)
  (workdir / "traces.md").write_text(traces(workdir, presets, seeds))
  print(text)
  return text


if __name__ == "__main__":
  main()
