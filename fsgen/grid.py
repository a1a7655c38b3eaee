"""Sample grids as PNG."""

from __future__ import annotations

import math
import pathlib

import numpy as np
from PIL import Image

from fsgen.data.preprocess import to_uint8


def make_grid(images, nrow: int | None = None, pad: int = 2) -> np.ndarray:
  """float [N, H, W, C] in [-1, 1] -> uint8 [rows*(H+pad)+pad, nrow*(W+pad)+pad, C] on a black canvas."""
  x = to_uint8(images)
  n, h, w, c = x.shape
  nrow = nrow or math.ceil(math.sqrt(n))
  rows = math.ceil(n / nrow)
  canvas = np.zeros((rows * (h + pad) + pad, nrow * (w + pad) + pad, c), np.uint8)
  for i in range(n):
    r, k = divmod(i, nrow)
    canvas[pad + r * (h + pad) : pad + r * (h + pad) + h, pad + k * (w + pad) : pad + k * (w + pad) + w] = x[i]
  return canvas


def save_grid(images, path: str | pathlib.Path, nrow: int | None = None, upscale: int = 1) -> pathlib.Path:
  """Writes `images` (float [N, H, W, C] in [-1, 1]) as one PNG grid; `upscale` enlarges small images."""
  grid = make_grid(images, nrow)
  im = Image.fromarray(grid[..., 0] if grid.shape[-1] == 1 else grid)
  if upscale > 1:
    im = im.resize((im.width * upscale, im.height * upscale), Image.Resampling.NEAREST)
  path = pathlib.Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  im.save(path)
  return path
