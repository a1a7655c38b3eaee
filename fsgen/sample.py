"""Samples a grid from a trained workdir or an export, without the trainer or optimizer state.

  python -m fsgen.sample --workdir runs/quickstart --n 64 --out grid.png [--seed 0]
  python -m fsgen.sample --export runs/quickstart/export --n 16 --out grid.png

With --workdir, WORKDIR/export is used when present, else the latest checkpoint.
"""

from __future__ import annotations

import argparse
import pathlib
import sys

import jax
import ml_collections

from fsgen import checkpoint, methods
from fsgen.data.info import DataInfo
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


def main(argv=None) -> None:
  p = argparse.ArgumentParser(prog="python -m fsgen.sample", description=__doc__.splitlines()[0])
  p.add_argument("--workdir", help="training workdir")
  p.add_argument("--export", help="export directory (WORKDIR/export)")
  p.add_argument("--n", type=int, default=64, help="number of samples")
  p.add_argument("--seed", type=int, default=0)
  p.add_argument("--out", default="samples.png", help="output PNG")
  p.add_argument("--upscale", type=int, default=1, help="integer upscaling of the grid (nearest)")
  a = p.parse_args(argv)
  try:
    images = sample(a.workdir, a.export, a.n, a.seed)
  except (FileNotFoundError, ValueError) as e:
    sys.exit(f"error: {e}")
  print(save_grid(images, a.out, upscale=a.upscale))


if __name__ == "__main__":
  main()
