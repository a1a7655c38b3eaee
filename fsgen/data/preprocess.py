"""Preprocessing on the host, once: one size, one channel count, uint8; and [-1, 1] scaling on device."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from PIL import Image

from fsgen.data.sources import DataError


def resize_center_crop(img: np.ndarray, resolution: int) -> np.ndarray:
  """Antialiased resize of the shorter side to `resolution`, then a centred square crop.

  Args:
    img: uint8 [H, W] or [H, W, C] with C in {1, 3}.
  Returns:
    uint8 [resolution, resolution] or [resolution, resolution, C].
  """
  squeeze = img.ndim == 3 and img.shape[-1] == 1
  pil = Image.fromarray(img[..., 0] if squeeze else img)
  w, h = pil.size
  scale = resolution / min(w, h)
  nw, nh = max(resolution, round(w * scale)), max(resolution, round(h * scale))
  if (nw, nh) != (w, h):
    # LANCZOS in PIL filters with a kernel widened by the scale factor when shrinking: antialiased.
    pil = pil.resize((nw, nh), Image.Resampling.LANCZOS)
  left, top = (nw - resolution) // 2, (nh - resolution) // 2
  out = np.asarray(pil.crop((left, top, left + resolution, top + resolution)), np.uint8)
  return out[..., None] if squeeze else out


def to_channels(img: np.ndarray, channels: int) -> np.ndarray:
  """uint8 [H, W] or [H, W, C] -> [H, W, channels]; gray->RGB repeats, RGB->gray uses ITU-R 601-2 luma."""
  if img.ndim == 2:
    img = img[..., None]
  c = img.shape[-1]
  if c == channels:
    return img
  if c == 1 and channels == 3:
    return np.repeat(img, 3, axis=-1)
  if c == 3 and channels == 1:
    return np.asarray(Image.fromarray(img).convert("L"), np.uint8)[..., None]
  if c == 4:
    return to_channels(img[..., :3], channels)
  raise DataError(f"cannot convert {c}-channel images to {channels} channels")


def prepare_images(
  images: list[np.ndarray], names: list[str], *, resolution: int | None, channels: int | None, resize: bool = True
) -> np.ndarray:
  """Stacks images into uint8 [N, H, W, C] with one size and one channel count.

  Args:
    images: uint8 arrays [H, W] or [H, W, C], sizes may differ.
    names: one name per image, for error messages.
    resolution: output side; None keeps the native size (all images must then agree).
    channels: 1 or 3; None keeps the native count, which must then be the same for all images.
    resize: if False the images must already be `resolution` square (no silent resampling).
  """
  if channels is None:
    counts = {1 if im.ndim == 2 else im.shape[-1] for im in images}
    if len(counts) > 1:
      first = next(
        n
        for n, im in zip(names, images)
        if (1 if im.ndim == 2 else im.shape[-1]) != (1 if images[0].ndim == 2 else images[0].shape[-1])
      )
      raise DataError(
        f"mixed channel counts {sorted(counts)} (e.g. {names[0]} vs {first}); set data.channels to 1 or 3"
      )
    channels = counts.pop()
  if channels not in (1, 3):
    raise DataError(f"data.channels must be 1 or 3, got {channels}")
  out = []
  for im, name in zip(images, names):
    if resize and resolution is not None:
      im = resize_center_crop(im, resolution)
    elif im.shape[:2] != (resolution, resolution) and resolution is not None:
      raise DataError(
        f"image {name} is {im.shape[1]}x{im.shape[0]}, expected {resolution}x{resolution} with data.resize=False"
      )
    elif resolution is None and im.shape[:2] != images[0].shape[:2]:
      raise DataError(
        f"mixed image sizes with resizing off: {names[0]} is {images[0].shape[:2]}, {name} is {im.shape[:2]}"
      )
    out.append(to_channels(im, channels))
  return np.stack(out).astype(np.uint8)


def to_float(images: jnp.ndarray) -> jnp.ndarray:
  """uint8 [..., H, W, C] in 0..255 -> float32 in [-1, 1]."""
  return images.astype(jnp.float32) * (2.0 / 255.0) - 1.0


def to_uint8(images) -> np.ndarray:
  """float [..., H, W, C] in [-1, 1] -> uint8 numpy (clipped), for PNGs."""
  x = np.asarray(images, np.float32)
  return np.clip(np.round((x + 1.0) * 127.5), 0, 255).astype(np.uint8)
