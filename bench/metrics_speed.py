"""Speed of the metric networks: images/s of Inception (FID) and LPIPS-VGG feature extraction at 64 and
256 px, and the time of a 10k-sample FID on 64 px images.

  python bench/metrics_speed.py                 # full figures (a 10k FID on a 2-core CPU takes hours)
  python bench/metrics_speed.py --fid_n 500     # measure on 500 samples and extrapolate to 10k

Inception inputs are resized to 299 (clean-fid protocol) whatever the image size, so its cost per image
is the same at 64 and 256 px; LPIPS runs at the image's own size. Each figure excludes compilation (one
warm-up call) and is the best of --repeats timed calls on random images. The FID timing covers sampling
fake 64 px images, their features, the reference features of as many real images and the distance.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import jax  # noqa: E402
import numpy as np  # noqa: E402

from fsgen.metrics import fid, inception, lpips  # noqa: E402


def _rate(fn, images, repeats: int) -> float:
  fn(images)  # warm-up: compile
  best = float("inf")
  for _ in range(repeats):
    t = time.perf_counter()
    jax.block_until_ready(fn(images))
    best = min(best, time.perf_counter() - t)
  return len(images) / best


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument("--batch", type=int, default=32, help="images per timed call (and per jitted chunk)")
  p.add_argument("--sizes", default="64,256")
  p.add_argument("--repeats", type=int, default=2)
  p.add_argument("--fid_n", type=int, default=10000, help="samples for the timed FID (extrapolated to 10k)")
  a = p.parse_args(argv)
  print(f"JAX {jax.__version__} on {jax.devices()[0].platform} x{jax.device_count()}")
  rng = np.random.default_rng(0)
  print(f"{'network':<14}{'image px':>9}{'images/s':>12}")
  for size in (int(s) for s in a.sizes.split(",")):
    x = rng.integers(0, 256, (a.batch, size, size, 3), dtype=np.uint8)
    inc = lambda v: inception.features(v, inception.FID_SIZE, a.batch)  # noqa: E731
    print(f"{'inception@299':<14}{size:>9}{_rate(inc, x, a.repeats):>12.2f}", flush=True)
    lp = lpips.LPIPS("vgg", batch=a.batch)
    feats = lambda v: lp.features(v, 0, len(v))  # noqa: E731
    print(f"{'lpips-vgg':<14}{size:>9}{_rate(feats, x, a.repeats):>12.2f}", flush=True)

  n = a.fid_n
  real = rng.integers(0, 256, (n, 64, 64, 3), dtype=np.uint8)
  sample_fn = lambda key, b: jax.random.uniform(key, (b, 64, 64, 3), minval=-1.0, maxval=1.0)  # noqa: E731
  t = time.perf_counter()
  ref = inception.features(real, inception.FID_SIZE, a.batch)
  t_ref = time.perf_counter() - t
  t = time.perf_counter()
  gen = inception.generated_features(sample_fn, jax.random.key(0), n, inception.FID_SIZE, a.batch)
  value = fid.fid_from_features(ref, gen)
  t_gen = time.perf_counter() - t
  scale = 10000 / n
  print(
    f"FID at 64 px, {n} samples: {t_gen:.1f} s (sampling + features + distance, reference cached)"
    f" + {t_ref:.1f} s for the reference features once; FID {value:.1f}"
  )
  if n != 10000:
    print(
      f"  -> 10k samples: about {t_gen * scale:.0f} s (+ {t_ref * scale:.0f} s uncached reference), "
      f"linear extrapolation"
    )


if __name__ == "__main__":
  main()
