"""Upsampling-grid patterns in an AugIntAE-family model's decodings (the issue 13 diagnosis of IntAE).

  python experiments/reproduce/augintae_stripes.py WORKDIR [WORKDIR ...] [--n 256] [--seed 0]

For each trained workdir (augintae, intae or ae presets) it encodes n of the workdir's training images,
decodes their reconstructions G(E(x)) and the midpoints G(slerp(E(x_i), E(x_j); 1/2)) of random pairs,
and prints the grid score of each set beside that of the real images. The InfoGAN decoder upsamples
7 -> 14 -> 28, so a pattern tied to its upsampling phases repeats every `period` = 4 pixels; its power
sits at the 2-D frequencies (u, v) that are multiples of H / period in each axis. The grid score of an
image is the share of its non-constant power at those frequencies (the (0, 0) term left out): 15 / 783
~ 0.02 for white noise, lower for strokes on a page, 1 for a pure pattern of period 4. Beside it, the
share of dark pixels (below mid-gray), ~10 % for Omniglot strokes on a white page: a decoding can be free
of the grid pattern and still be a black blob, not a character. Nets in eval mode (running batch
statistics), as the sampler uses them.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import ml_collections  # noqa: E402

from fsgen import data as fsdata  # noqa: E402
from fsgen.data.preprocess import to_float  # noqa: E402
from fsgen.methods.augintae import interpolate  # noqa: E402
from fsgen.sample import load_sampler  # noqa: E402


def grid_score(images: jax.Array, period: int = 4) -> tuple[float, float]:
  """(mean, max over images) share of the non-constant spectral power of images [B, H, W, C] at the
  frequencies that are multiples of H / period and W / period (H and W divisible by `period`)."""
  b, h, w, _ = images.shape
  if h % period or w % period:
    raise ValueError(f"image size {h}x{w} is not divisible by the period {period}")
  power = jnp.square(jnp.abs(jnp.fft.fft2(images, axes=(1, 2)))).sum(-1)  # [B, H, W]
  power = power.at[:, 0, 0].set(0.0)
  on_grid = power[:, :: h // period, :: w // period].sum((1, 2))
  share = on_grid / jnp.maximum(power.sum((1, 2)), 1e-12)
  return float(share.mean()), float(share.max())


def dark_share(images: jax.Array) -> float:
  """Fraction of the pixels of images [B, H, W, C] in [-1, 1] below mid-gray (0)."""
  return float(jnp.mean(images < 0))


def diagnose(workdir: pathlib.Path, n: int, seed: int, period: int) -> dict[str, tuple[float, float, float]]:
  method, params = load_sampler(str(workdir))
  config = ml_collections.ConfigDict(json.loads((workdir / "config.json").read_text()))
  images = to_float(jnp.asarray(fsdata.load(config.data).images))
  key_pick, key_pair = jax.random.split(jax.random.key(seed))
  x = images[jax.random.choice(key_pick, images.shape[0], (n,), replace=False)]
  z = method._apply("E", params["E"], params["batch_stats"]["E"], x, train=False)[0]
  partner = jax.random.permutation(key_pair, n)
  mid = interpolate(z, z[partner], jnp.full((n,), 0.5), method.hp.interpolation)
  decode = lambda c: method._apply("G", params["G"], params["batch_stats"]["G"], c, train=False)[0]  # noqa: E731
  sets = {"real": x, "reconstruction": decode(z), "midpoint": decode(mid)}
  return {name: (*grid_score(images, period), dark_share(images)) for name, images in sets.items()}


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument("workdirs", nargs="+")
  p.add_argument("--n", type=int, default=256, help="training images (and midpoints) per workdir")
  p.add_argument("--seed", type=int, default=0)
  p.add_argument("--period", type=int, default=4, help="pixels per repeat of the decoder's upsampling grid")
  args = p.parse_args(argv)
  print("| workdir | images | grid score, mean | grid score, max | dark pixels % |")
  print("|---|---|---|---|---|")
  for w in args.workdirs:
    for name, (mean, top, dark) in diagnose(pathlib.Path(w), args.n, args.seed, args.period).items():
      print(f"| {w} | {name} | {mean:.3f} | {top:.3f} | {100 * dark:.1f} |")


if __name__ == "__main__":
  main()
