"""LPIPS distances (VGG16 or AlexNet, v0.1 heads) and the pairwise LPIPS diversity of generated images.

`LPIPS(net)` computes, in fixed-size jitted chunks:
  distance(x, y)   LPIPS of aligned pairs [N] (the standard form; exactly 0 for x == y);
  pairwise(a, b)   all-pairs LPIPS [Na, Nb] from the feature form (squared Euclidean distance of
                   flattened sqrt(w)-scaled normalised taps), chunked over both sides so that 256 px VGG
                   features (8.4M floats per image) never need to be held for the whole set at once.

The diversity evaluator reports the mean LPIPS over all pairs i < j of n generated images, the measure
MixDL's Table 1 reports (on LPIPS-VGG at the generated resolution).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from fsgen import assets
from fsgen.metrics.chunks import map_chunks, pad_rows
from fsgen.neighbours import sq_distances
from fsgen.nets import lpips as lpips_net

ASSET = {"vgg": "lpips_vgg", "alex": "lpips_alex"}


def prepare(images: jax.Array, size: int | None = None) -> jax.Array:
  """uint8 [B, H, W, C] or float in [-1, 1] -> float32 [B, size, size, 3] in [-1, 1] (antialiased resize)."""
  if jnp.issubdtype(images.dtype, jnp.floating):
    x = images.astype(jnp.float32)
  else:
    x = images.astype(jnp.float32) * (2.0 / 255.0) - 1.0
  if x.shape[-1] == 1:
    x = jnp.repeat(x, 3, axis=-1)
  if size is not None and x.shape[1:3] != (size, size):
    x = jax.image.resize(x, (x.shape[0], size, size, 3), "cubic", antialias=True)
  return x


@functools.cache
def weights(net: str):
  """The LPIPS weights of `net` ('vgg' or 'alex': backbone + v0.1 heads, fsgen.assets), on device, loaded once."""
  if net not in ASSET:
    raise ValueError(f"LPIPS net must be one of {sorted(ASSET)}, got {net!r}")
  return jax.device_put(assets.load(ASSET[net]))


@functools.cache
def _fns(net: str, size: int | None):
  model = lpips_net.LPIPSNet(net)

  @jax.jit
  def feats(params, x):
    return lpips_net.flatten(model.apply({"params": params}, prepare(x, size)))

  @jax.jit
  def dist(params, x, y):
    f = lambda v: model.apply({"params": params}, prepare(v, size))
    return lpips_net.distance(f(x), f(y))

  return feats, dist, jax.jit(sq_distances)


class LPIPS:
  """LPIPS with the `net` ('vgg' or 'alex') backbone on images resized to `size` (None: as given).

  batch: images per jitted chunk; cache_bytes: host budget for keeping the second operand's features of
  `pairwise` (above it they are recomputed per chunk of the first operand).
  """

  def __init__(self, net: str = "vgg", size: int | None = None, batch: int = 16, cache_bytes: int = 2 << 30):
    self.net, self.size, self.batch, self.cache_bytes = net, size, int(batch), int(cache_bytes)
    self.params = weights(net)
    self._feats, self._dist, self._sq = _fns(net, size)

  def _chunks(self, n: int):
    return [(s, min(s + self.batch, n)) for s in range(0, n, self.batch)]

  def features(self, images: np.ndarray, start: int, stop: int) -> jax.Array:
    """Feature-form rows [stop - start, D] (on device) of images[start:stop]."""
    x = pad_rows(images[start:stop], self.batch)
    return self._feats(self.params, jnp.asarray(x))[: stop - start]

  def distance(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """LPIPS of aligned pairs: x, y [N, H, W, C] -> [N] float32."""
    if len(x) != len(y):
      raise ValueError(f"LPIPS.distance: {len(x)} vs {len(y)} images")
    return map_chunks(lambda a, b: self._dist(self.params, a, b), [x, y], self.batch)

  def pairwise(self, a: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """All-pairs LPIPS [Na, Nb] (b None: a against itself, diagonal 0, symmetric)."""
    same = b is None
    b = a if same else b
    ca, cb = self._chunks(len(a)), self._chunks(len(b))
    out = np.zeros((len(a), len(b)), np.float32)
    keep: dict[int, jax.Array] = {}
    per_image = None
    for i, (s, e) in enumerate(ca):
      fa = self.features(a, s, e)
      if per_image is None:
        per_image = fa.shape[1] * 4
      for j, (t, u) in enumerate(cb):
        if same and j < i:
          continue
        if same and j == i:
          fb = fa
        elif j in keep:
          fb = keep[j]
        else:
          fb = self.features(b, t, u)
          if per_image * len(b) <= self.cache_bytes:
            keep[j] = fb
        out[s:e, t:u] = np.asarray(self._sq(fa, fb))
    if same:
      out = np.triu(out, 1)
      out = out + out.T
    return out


def mean_pairwise(d: np.ndarray) -> tuple[float, float]:
  """Mean and std of the off-diagonal upper triangle of a square distance matrix [n, n]."""
  iu = np.triu_indices(len(d), 1)
  return float(d[iu].mean()), float(d[iu].std())


class Evaluator:
  """Pairwise LPIPS diversity of `n` generated images (mean over all pairs i < j).

  Returns {'lpips': mean, 'lpips_std': std over pairs}; `subsets` > 1 splits the n images into that many
  groups (MixDL: 5) and reports the mean over groups and their std as 'lpips_subset_std'.
  """

  def __init__(
    self, dataset, n: int = 100, net: str = "vgg", size: int | None = None, batch: int = 16, subsets: int = 1
  ):
    del dataset
    self.n, self.subsets = int(n), int(subsets)
    self.lpips = LPIPS(net, size, batch)

  def run(self, sample_fn, key) -> dict[str, float]:
    images = np.asarray(sample_fn(key, self.n))
    groups = np.array_split(np.arange(len(images)), self.subsets)
    means, stds = zip(*[mean_pairwise(self.lpips.pairwise(images[g])) for g in groups])
    out = {"lpips": float(np.mean(means)), "lpips_std": float(np.mean(stds))}
    if self.subsets > 1:
      out["lpips_subset_std"] = float(np.std(means))
    return out
