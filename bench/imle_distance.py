"""Which IMLE distance separates identity, noise, blur and other real images? (the CPU preset's choice)

  python bench/imle_distance.py [--resolutions 32,64] [--lpips_sizes 0,64,128] [--nets alex]

For the 100 pandas at each resolution and each distance L = LPIPS(net at lpips_size) + l2_coef * pixel MSE
(fsgen.losses.imle), prints the mean L of: each image to its nearest OTHER real panda; to itself plus
N(0, sigma^2) noise (sigma 0.1, 0.2, 0.3); to itself blurred 2x (bilinear down and up); to itself shifted
by one pixel; and the feature size D and the LPIPS forward cost. A distance suits IMLE when a real panda's
nearest other panda is closer than its noisy and blurred copies (so matching a sample to an image rewards
looking like a panda), and both degradations cost clearly more than identity.
"""

from __future__ import annotations

import argparse
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from experiments.configs import shared_data  # noqa: E402
from fsgen import data as fsdata  # noqa: E402
from fsgen.data.preprocess import to_float  # noqa: E402
from fsgen.losses import imle as imle_loss  # noqa: E402
from fsgen.metrics.chunks import map_chunks  # noqa: E402
from fsgen.metrics.lpips import weights  # noqa: E402
from fsgen.neighbours import sq_distances  # noqa: E402


def degradations(x: np.ndarray, seed: int = 0) -> dict[str, np.ndarray]:
  rng = np.random.default_rng(seed)
  n, h, w, c = x.shape
  small = jax.image.resize(x, (n, h // 2, w // 2, c), "bilinear", antialias=True)
  out = {f"noise {s}": x + s * rng.standard_normal(x.shape).astype(np.float32) for s in (0.1, 0.2, 0.3)}
  out["blur 2x"] = np.asarray(jax.image.resize(small, x.shape, "bilinear"))
  out["shift 1px"] = np.roll(x, 1, axis=2)
  return out


def main():
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--resolutions", default="32,64")
  ap.add_argument("--lpips_sizes", default="0,64,128")
  ap.add_argument("--nets", default="alex")
  ap.add_argument("--l2_coef", type=float, default=0.1)
  args = ap.parse_args()
  rows = []
  for res in [int(r) for r in args.resolutions.split(",")]:
    data = fsdata.load(dict(source=f"folder:{shared_data('panda100', 'img')}", resolution=res, channels=3))
    x = np.asarray(to_float(data.images))
    degraded = degradations(x)
    for net in args.nets.split(","):
      for size in [int(s) for s in args.lpips_sizes.split(",")]:
        if size and size <= res:
          continue
        dist = imle_loss.build(f"lpips_{net}", resolution=res, l2_coef=args.l2_coef, lpips_size=size)
        w = weights(net)
        phi = jax.jit(dist.features)
        feats = lambda imgs: map_chunks(lambda b: phi(w, b), [imgs], 50)  # noqa: E731
        fx = feats(x)
        d = np.array(sq_distances(jnp.asarray(fx), jnp.asarray(fx)))
        np.fill_diagonal(d, np.inf)
        row = {"res": res, "distance": f"{net}@{size or res} + {args.l2_coef} MSE", "D": dist.dim}
        row["nearest other panda"] = float(d.min(1).mean())
        for name, y in degraded.items():
          row[name] = float(np.sum((feats(y) - fx) ** 2, axis=1).mean())
        rows.append(row)
        print(row, flush=True)
  keys = list(rows[0])
  print("\n| " + " | ".join(keys) + " |\n|" + "---|" * len(keys))
  for r in rows:
    print(
      "| "
      + " | ".join(f"{v:.3f}" if isinstance(v, float) else f"{v:,}" if isinstance(v, int) else v for v in r.values())
      + " |"
    )


if __name__ == "__main__":
  main()
