"""Samples from a trained workdir or an export, without the trainer or optimizer state.

  python -m fsgen.sample --workdir runs/quickstart --n 64 --out grid.png [--seed 0]
  python -m fsgen.sample --export runs/quickstart/export --n 16 --out grid.png
  python -m fsgen.sample --workdir runs/quickstart --n 5000 --out-dir DIR   # 5000 PNGs, 000000.png ...

With --workdir, WORKDIR/export is used when present, else the newest intact checkpoint. --out-dir draws
`--batch` images at a time (one compiled shape, flat memory; batch b uses fold_in(key(seed), b)) and
writes each image as its own PNG, for FID tools that read folders.
"""

from __future__ import annotations

import argparse
import pathlib
import sys

import jax
import ml_collections
from PIL import Image

from fsgen import checkpoint, methods
from fsgen.data.info import DataInfo
from fsgen.data.preprocess import to_uint8
from fsgen.grid import save_grid


def load_sampler(workdir: str | None = None, export: str | None = None):
  """(method, params) from an export directory or a workdir (export first, else latest checkpoint)."""
  if export is None and workdir is not None and (pathlib.Path(workdir) / "export" / "config.json").exists():
    export = str(pathlib.Path(workdir) / "export")
  if export is not None:
    params, config = checkpoint.load_export(export)
    info = DataInfo.read(pathlib.Path(export) / "data_info.json")
    method = methods.build(ml_collections.ConfigDict(config), info)
    return method, params
  if workdir is None:
    raise ValueError("give --workdir or --export")
  state, config = checkpoint.restore_raw(workdir)
  method = methods.build(ml_collections.ConfigDict(config), DataInfo.read(pathlib.Path(workdir) / "data_info.json"))
  return method, method.sampling_params(state)


def sample(workdir: str | None = None, export: str | None = None, n: int = 64, seed: int = 0):
  """n images [n, H, W, C] in [-1, 1]."""
  method, params = load_sampler(workdir, export)
  return jax.jit(method.sample, static_argnums=2)(params, jax.random.key(seed), n)


def write_pngs(workdir=None, export=None, n: int = 5000, seed: int = 0, out_dir=".", batch: int = 250) -> int:
  """Writes n samples as out_dir/000000.png ... (uint8, 1 or 3 channels); returns how many were written."""
  method, params = load_sampler(workdir, export)
  draw = jax.jit(method.sample, static_argnums=2)
  out = pathlib.Path(out_dir)
  out.mkdir(parents=True, exist_ok=True)
  key, written = jax.random.key(seed), 0
  for b in range(-(-n // batch)):
    images = to_uint8(draw(params, jax.random.fold_in(key, b), batch))
    for x in images[: n - written]:
      Image.fromarray(x[..., 0] if x.shape[-1] == 1 else x).save(out / f"{written:06d}.png")
      written += 1
  return written


def main(argv=None) -> None:
  p = argparse.ArgumentParser(prog="python -m fsgen.sample", description=__doc__.splitlines()[0])
  p.add_argument("--workdir", help="training workdir")
  p.add_argument("--export", help="export directory (WORKDIR/export)")
  p.add_argument("--n", type=int, default=64, help="number of samples")
  p.add_argument("--seed", type=int, default=0)
  p.add_argument("--out", default="samples.png", help="output PNG")
  p.add_argument("--upscale", type=int, default=1, help="integer upscaling of the grid (nearest)")
  p.add_argument("--out-dir", help="write the n samples as individual PNGs in this folder (instead of a grid)")
  p.add_argument("--batch", type=int, default=250, help="images drawn at a time with --out-dir")
  a = p.parse_args(argv)
  if a.n < 1 or a.batch < 1:
    sys.exit(f"error: --n and --batch must be positive (got {a.n}, {a.batch})")
  try:
    if a.out_dir:
      print(f"{write_pngs(a.workdir, a.export, a.n, a.seed, a.out_dir, min(a.batch, a.n))} images in {a.out_dir}")
      return
    images = sample(a.workdir, a.export, a.n, a.seed)
  except (FileNotFoundError, ValueError) as e:
    sys.exit(f"error: {e}")
  print(save_grid(images, a.out, upscale=a.upscale))


if __name__ == "__main__":
  main()
