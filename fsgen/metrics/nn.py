"""Memorisation: nearest training image of each generated image, in pixel, LPIPS or Inception space.

For generated x_g (M images) and training x_t (N images):
  distinct_nn = number of distinct training images that are the nearest neighbour of some sample
                (MixDL Fig. 8b, "number of unique NN training samples");
  nn_dist_{mean,min,median,p10,p90,max} = the distribution of each sample's distance to its nearest
                training image;
  spread_ratio = (mean RMS distance between two distinct samples) / (the same between two distinct
                training images), pixel space only: ~0 for a collapsed generator, ~1 for samples as
                varied as the training set, whatever their nearest neighbours (blurred samples can share
                one nearest training image and still differ from each other);
  fidelity_ratio = nn_dist_mean / (mean RMS distance of each training image to its nearest other training
                image), pixel space only: ~1 for samples as close to the training set as its images are to
                each other, << 1 for copies, >> 1 for samples far from every training image (noise; with
                spread_ratio > 1 it marks diversity that is not the data's).
Spaces: 'pixel' (RMS distance of flattened images in [-1, 1]), 'lpips_vgg' / 'lpips_alex' (LPIPS, via its
feature form, Adaptive IMLE's NN space), 'inception' (Euclidean distance of pool3 features).
Exact search by one matrix product (fsgen.neighbours.nearest), chunked over the generated images.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from fsgen.data.preprocess import to_float
from fsgen.neighbours import nearest

SPACES = ("pixel", "lpips_vgg", "lpips_alex", "inception")


def summarize(idx: np.ndarray, dist: np.ndarray) -> dict[str, float]:
  """Nearest indices [M] and distances [M] -> distinct_nn and the distance distribution."""
  return {
    "distinct_nn": float(len(np.unique(idx))),
    "nn_dist_mean": float(dist.mean()),
    "nn_dist_min": float(dist.min()),
    "nn_dist_median": float(np.median(dist)),
    "nn_dist_p10": float(np.percentile(dist, 10)),
    "nn_dist_p90": float(np.percentile(dist, 90)),
    "nn_dist_max": float(dist.max()),
  }


def _rms_rows(flat: np.ndarray, sq: np.ndarray, start: int, stop: int) -> np.ndarray:
  """RMS distances [stop - start, M] of rows start:stop of flat [M, D] (float64) to every row, by
  |a - b|^2 = |a|^2 + |b|^2 - 2 a.b with sq = |row|^2 [M]."""
  d2 = sq[start:stop, None] + sq[None, :] - 2.0 * flat[start:stop] @ flat.T
  return np.sqrt(np.maximum(d2, 0.0) / flat.shape[1])


def mean_pairwise_rms(x: np.ndarray, chunk: int = 512) -> float:
  """Mean RMS distance over the ordered pairs i != j of images x [M, H, W, C] (M >= 2), by
  |a - b|^2 = |a|^2 + |b|^2 - 2 a.b in float64, chunked over rows (not fsgen.neighbours.sq_distances:
  in float32 that form cancels to ~1e-3 RMS for identical images, which would hide a full collapse)."""
  flat = np.asarray(x, np.float64).reshape(len(x), -1)
  if len(flat) < 2:
    raise ValueError(f"mean_pairwise_rms needs at least 2 images, got {len(flat)}")
  sq = np.sum(flat**2, axis=1)
  total = 0.0
  for s in range(0, len(flat), chunk):
    rms = _rms_rows(flat, sq, s, s + chunk)
    rms[np.arange(len(rms)), np.arange(s, s + len(rms))] = 0.0  # the i == j terms
    total += float(rms.sum())
  return total / (len(flat) * (len(flat) - 1))


def leave_one_out_nn_rms(x: np.ndarray) -> float:
  """Mean over images x [N, H, W, C] (N >= 2) of the RMS distance to the nearest other image (float64)."""
  flat = np.asarray(x, np.float64).reshape(len(x), -1)
  rms = _rms_rows(flat, np.sum(flat**2, axis=1), 0, len(flat))
  np.fill_diagonal(rms, np.inf)
  return float(rms.min(axis=1).mean())


def memorisation(generated: np.ndarray, train: np.ndarray, chunk: int = 1024) -> dict[str, float]:
  """Pixel space. generated [M, H, W, C], train [N, H, W, C], both float in [-1, 1] -> statistics above."""
  keys = jnp.asarray(train.reshape(len(train), -1), jnp.float32)
  idx, d2 = [], []
  for s in range(0, len(generated), chunk):
    q = jnp.asarray(generated[s : s + chunk].reshape(-1, keys.shape[1]), jnp.float32)
    i, d = nearest(q, keys)
    idx.append(np.asarray(i))
    d2.append(np.asarray(d))
  idx = np.concatenate(idx)
  # Recompute the winners' distances directly: the expanded form cancels badly for near-copies.
  flat_g = np.asarray(generated, np.float32).reshape(len(generated), -1)
  flat_t = np.asarray(train, np.float32).reshape(len(train), -1)
  rms = np.sqrt(np.mean((flat_g - flat_t[idx]) ** 2, axis=1))
  out = summarize(idx, rms)
  if len(flat_g) > 1 and len(flat_t) > 1:
    out["spread_ratio"] = mean_pairwise_rms(flat_g) / max(mean_pairwise_rms(flat_t), 1e-12)
    out["fidelity_ratio"] = out["nn_dist_mean"] / max(leave_one_out_nn_rms(flat_t), 1e-12)
  return out


def memorisation_in(
  space: str, generated: np.ndarray, train: np.ndarray, *, size: int | None = None, batch: int = 16
) -> dict[str, float]:
  """Memorisation statistics in `space` (see SPACES); images uint8 or float in [-1, 1].

  size: resize side for the LPIPS spaces (None: as given) and Inception input side (None: 299).
  """
  if space == "pixel":
    return memorisation(
      np.asarray(to_float(np.asarray(generated))) if generated.dtype == np.uint8 else np.asarray(generated, np.float32),
      np.asarray(to_float(train)),
    )
  if space in ("lpips_vgg", "lpips_alex"):
    from fsgen.metrics.lpips import LPIPS  # pylint: disable=import-outside-toplevel

    d = LPIPS(space.split("_")[1], size, batch).pairwise(generated, train)  # LPIPS values [M, N]
    idx = np.argmin(d, axis=1)
    return summarize(idx, d[np.arange(len(d)), idx])
  if space == "inception":
    from fsgen.metrics import inception  # pylint: disable=import-outside-toplevel

    fg = inception.features(generated, size or inception.FID_SIZE, batch)
    ft = inception.features(train, size or inception.FID_SIZE, batch)
    idx, d2 = nearest(jnp.asarray(fg), jnp.asarray(ft))
    return summarize(np.asarray(idx), np.sqrt(np.asarray(d2)))
  raise ValueError(f"nn: unknown space {space!r} (known: {', '.join(SPACES)})")


class Evaluator:
  """Samples `n` images and reports memorisation statistics against the training set in `space`."""

  def __init__(self, dataset, n: int = 256, space: str = "pixel", size: int | None = None, batch: int = 16):
    if space not in SPACES:
      raise ValueError(f"nn: unknown space {space!r} (known: {', '.join(SPACES)})")
    self.images = np.asarray(dataset.images)
    self.train = np.asarray(to_float(self.images))
    self.n, self.space, self.size, self.batch = n, space, size, batch

  def run(self, sample_fn, key) -> dict[str, float]:
    generated = np.asarray(sample_fn(key, self.n))
    if self.space == "pixel":
      return memorisation(generated, self.train)
    return memorisation_in(self.space, generated, self.images, size=self.size, batch=self.batch)
