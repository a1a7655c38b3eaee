"""Reproduces AugIntAE's comparison (paper Tables 1-2) on Omniglot at CPU scale: AugIntAE vs IntAE vs AE.

  python experiments/reproduce/augintae.py [--presets augintae_omniglot_cpu,intae_omniglot_cpu,ae_omniglot_cpu]
      [--seeds 0] [--workdir runs/reproduce_augintae] [--n 636] [--shots 6] [--epochs 0]

Train domain: Omniglot background_small1 (the presets' data). Novel domain: the alphabets of
background_small2 that small1 lacks (Japanese katakana, Sanskrit, Tagalog: 106 characters, 2,120
images; Greek and Latin are in both, see ../shared/data/README.md). For every preset and seed it trains
(or reuses) WORKDIR/<preset>_s<seed> through fsgen.train, then measures:
  recon train / novel  per-pixel RMS reconstruction error G(E(x)) - x on the 0..255 scale, over all
                       train-domain and all novel images (Table 1's generalisation test);
  FID / KID            few-shot generation (Table 2): for every novel character, `shots` seed images
                       (chosen by the seed), random pairs of seeds, 3 evenly spaced points per path
                       (alpha = 0.25, 0.5, 0.75), n images in all, against all 2,120 novel images;
  domain error         % of those images that a train-vs-novel classifier (the encoder's architecture,
                       2 outputs, trained on 80% of both real sets) calls train-domain (lower is better);
                       its accuracy on the held-out 20% of real images is reported with it.
Two reference rows use the same seeds, pairs and alphas: "pixel fade" (alpha x_i + (1 - alpha) x_j in
image space, the paper's figures' baseline) and "real novel" (FID between two halves of the novel set,
the floor at this sample size; domain error of the held-out novel images).
Writes WORKDIR/table.md and WORKDIR/results.json and prints the table.
"""

import argparse
import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

from fsgen import configs, methods, train  # noqa: E402
from fsgen.data.preprocess import prepare_images, to_float  # noqa: E402
from fsgen.data.sources import read_omniglot  # noqa: E402
from fsgen.methods import augintae  # noqa: E402
from fsgen.metrics import fid as fid_lib  # noqa: E402
from fsgen.metrics import inception
from fsgen.metrics import kid as kid_lib
from fsgen.nets.autoencoder import InfoGANEncoder  # noqa: E402

OMNIGLOT = ROOT.parent / "shared" / "data" / "omniglot"
ALPHAS = (0.25, 0.5, 0.75)


def load_domains(resolution: int = 28):
  """(train images uint8 [N1, R, R, 1], novel images [N2, R, R, 1], novel character labels [N2])."""
  small1, small2 = (read_omniglot(str(OMNIGLOT / f"images_background_small{k}.zip")) for k in (1, 2))
  seen = {name.split("/")[0] for name in small1.class_names}
  keep = [i for i, lab in enumerate(small2.labels) if small2.class_names[lab].split("/")[0] not in seen]
  prep = lambda raw, idx: prepare_images(
    [raw.images[i] for i in idx], [raw.names[i] for i in idx], resolution=resolution, channels=1
  )
  train_images = prep(small1, range(len(small1.images)))
  novel = prep(small2, keep)
  _, labels = np.unique(small2.labels[keep], return_inverse=True)
  return train_images, novel, labels.astype(np.int32)


def few_shot_paths(labels: np.ndarray, shots: int, n: int, seed: int):
  """Seeds and paths for every novel class: (seed indices [C, shots] into the novel set, i [P], j [P]
  into each class's seeds, alpha [P], class [P]) with P = ceil(n / 3 / C) * 3 * C points."""
  rng = np.random.default_rng(seed)
  classes = np.unique(labels)
  seeds = np.stack([rng.choice(np.flatnonzero(labels == c), shots, replace=False) for c in classes])
  per_class = -(-n // (len(ALPHAS) * len(classes))) * len(ALPHAS)
  out = [
    augintae.random_paths(jax.random.fold_in(jax.random.key(seed), int(c)), shots, per_class, ALPHAS) for c in classes
  ]
  i, j, alpha = (np.concatenate([np.asarray(o[k]) for o in out]) for k in range(3))
  return seeds, i, j, alpha, np.repeat(classes, per_class)


def domain_classifier(train_images, novel_images, seed: int, steps: int = 1500, batch: int = 128):
  """A train (0) vs novel (1) classifier with the encoder's architecture, trained on 80% of each set.
  Returns (predict: float images [B, R, R, 1] -> P(train domain) [B], held-out accuracy on real images,
  indices into the novel set of its held-out novel images)."""
  rng = np.random.default_rng(seed)
  x = np.concatenate([train_images, novel_images])
  y = np.concatenate([np.zeros(len(train_images), np.int32), np.ones(len(novel_images), np.int32)])
  order = rng.permutation(len(x))
  cut = int(0.8 * len(x))
  tr, te = order[:cut], order[cut:]
  net = InfoGANEncoder(out=2, unit=False)
  params = net.init(jax.random.key(seed), jnp.zeros((1,) + x.shape[1:]))["params"]
  tx = optax.adam(1e-3)
  opt = tx.init(params)
  xs, ys = jnp.asarray(x[tr]), jnp.asarray(y[tr])

  @jax.jit
  def step(params, opt, key):
    idx = jax.random.randint(key, (batch,), 0, xs.shape[0])

    def loss(p):
      logits = net.apply({"params": p}, to_float(xs[idx]))
      return optax.softmax_cross_entropy_with_integer_labels(logits, ys[idx]).mean()

    g = jax.grad(loss)(params)
    updates, opt = tx.update(g, opt, params)
    return optax.apply_updates(params, updates), opt

  for s in range(steps):
    params, opt = step(params, opt, jax.random.key(10_000 + s))
  predict = jax.jit(lambda imgs: jax.nn.softmax(net.apply({"params": params}, imgs))[:, 0])
  acc = float(np.mean((np.asarray(predict(to_float(jnp.asarray(x[te])))) < 0.5) == (y[te] == 1)))
  return predict, acc, te[y[te] == 1] - len(train_images)


def rms_255(a, b) -> float:
  return float(np.sqrt(np.mean(np.square(np.asarray(a, np.float64) - np.asarray(b, np.float64)))) * 127.5)


def score(images, ref_feats, predict) -> dict:
  """FID / KID against the novel set and the domain error of generated float images [P, R, R, 1]."""
  feats = inception.features(images)
  return {
    "fid": fid_lib.fid_from_features(ref_feats, feats),
    "kid": kid_lib.kernel_inception_distance(ref_feats, feats, 100, min(1000, len(feats))),
    "domain_error": 100.0 * float(np.mean(np.asarray(predict(images)) > 0.5)),
  }


def run_preset(preset, seed, workdir, epochs, domains, paths, ref_feats, predict) -> dict:
  wd = workdir / f"{preset}_s{seed}"
  result_path = wd / "metrics_final.json"
  if result_path.exists():
    return json.loads(result_path.read_text())
  config = configs.load(preset + (f":epochs={epochs}" if epochs else ""))
  config.seed, config.progress = seed, False
  result = train.train_and_evaluate(config, wd)
  method = methods.build(config)
  params = method.sampling_params(result.state)
  train_images, novel, _ = domains
  recon = jax.jit(method.reconstruct)
  rec = lambda imgs: np.concatenate(
    [np.asarray(recon(params, to_float(jnp.asarray(imgs[k : k + 500])))) for k in range(0, len(imgs), 500)]
  )
  out = {
    "train_seconds": result.seconds,
    "recon_train": rms_255(rec(train_images), to_float(train_images)),
    "recon_novel": rms_255(rec(novel), to_float(novel)),
  }
  seeds, i, j, alpha, cls = paths
  decode = jax.jit(method.decode_paths)
  images = np.concatenate(
    [
      np.asarray(decode(params, to_float(jnp.asarray(novel[seeds[c]])), i[cls == c], j[cls == c], alpha[cls == c]))
      for c in np.unique(cls)
    ]
  )
  out.update(score(images, ref_feats, predict))
  result_path.write_text(json.dumps(out, indent=1))
  return out


def reference_rows(domains, paths, ref_feats, predict, held_out_novel, seed) -> dict:
  _, novel, _ = domains
  seeds, i, j, alpha, cls = paths
  x = to_float(jnp.asarray(novel))
  fades = np.concatenate(
    [
      np.asarray(
        alpha[cls == c, None, None, None] * x[seeds[c]][i[cls == c]]
        + (1 - alpha[cls == c, None, None, None]) * x[seeds[c]][j[cls == c]]
      )
      for c in np.unique(cls)
    ]
  )
  half = np.random.default_rng(seed).permutation(len(novel))
  a, b = half[: len(half) // 2], half[len(half) // 2 :]
  real = {
    "fid": fid_lib.fid_from_features(ref_feats[a], ref_feats[b]),
    "kid": kid_lib.kernel_inception_distance(ref_feats[a], ref_feats[b], 100, 1000),
    "domain_error": 100.0 * float(np.mean(np.asarray(predict(x[held_out_novel])) > 0.5)),
  }
  return {"pixel fade": score(fades, ref_feats, predict), "real novel": real}


def table(results: dict, clf_acc: list) -> str:
  cols = [
    ("recon train", "recon_train"),
    ("recon novel", "recon_novel"),
    ("FID", "fid"),
    ("KID", "kid"),
    ("domain error %", "domain_error"),
    ("train s", "train_seconds"),
  ]
  lines = ["| model | " + " | ".join(c for c, _ in cols) + " |", "|---|" + "---|" * len(cols)]
  for name, runs in results.items():
    cells = []
    for _, key in cols:
      vals = [r[key] for r in runs if key in r]
      fmt = "{:.4f}" if key == "kid" else ("{:.0f}" if key == "train_seconds" else "{:.2f}")
      cells.append(
        "-"
        if not vals
        else fmt.format(vals[0])
        if len(vals) == 1
        else f"{fmt.format(np.mean(vals))} ± {fmt.format(np.std(vals))}"
      )
    lines.append(f"| {name} | " + " | ".join(cells) + " |")
  return "\n".join(lines) + (
    f"\n\n(recon: RMS per pixel on 0..255; FID/KID/domain error: lower is better; "
    f"domain classifier held-out accuracy {np.mean(clf_acc) * 100:.1f}%; "
    f"seeds: {len(next(iter(results.values())))})\n"
  )


def main():
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument("--presets", default="augintae_omniglot_cpu,intae_omniglot_cpu,ae_omniglot_cpu")
  p.add_argument("--seeds", default="0")
  p.add_argument("--workdir", default="runs/reproduce_augintae")
  p.add_argument("--n", type=int, default=636, help="generated images (rounded up to 3 per path per class)")
  p.add_argument("--shots", type=int, default=6, help="seed images per novel character")
  p.add_argument("--epochs", type=int, default=0, help="override the presets' 100 epochs (0 = theirs)")
  a = p.parse_args()
  if not OMNIGLOT.exists():
    sys.exit(f"{OMNIGLOT} is absent: this reproduction needs ../shared/data/omniglot beside the checkout")
  workdir = pathlib.Path(a.workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  domains = load_domains()
  print(
    f"train domain {len(domains[0])} images, novel domain {len(domains[1])} images "
    f"({len(np.unique(domains[2]))} characters)",
    flush=True,
  )
  ref_feats = inception.reference_features(domains[1], name="omniglot_novel_small2")
  results, accs = {}, []
  for s in map(int, a.seeds.split(",")):
    predict, acc, held_out_novel = domain_classifier(domains[0], domains[1], s)
    accs.append(acc)
    paths = few_shot_paths(domains[2], a.shots, a.n, s)
    for preset in a.presets.split(","):
      results.setdefault(preset, []).append(
        run_preset(preset, s, workdir, a.epochs, domains, paths, ref_feats, predict)
      )
      print(preset, s, results[preset][-1], flush=True)
    for name, row in reference_rows(domains, paths, ref_feats, predict, held_out_novel, s).items():
      results.setdefault(name, []).append(row)
  (workdir / "results.json").write_text(json.dumps(results, indent=1))
  text = table(results, accs)
  (workdir / "table.md").write_text(text)
  print(text)


if __name__ == "__main__":
  main()
