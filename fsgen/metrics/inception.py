"""Inception pool3 features for FID, KID and precision/recall, and per-dataset reference features on disk.

Pre-processing follows clean-fid's default ("clean") mode: images as uint8 (generated images in [-1, 1]
are quantised as a PNG would be: round((x + 1) * 127.5)), grey repeated to RGB, resized to 299x299 on
float values with an antialiased bicubic filter (jax.image.resize 'cubic', antialias=True, which matches
PIL's float BICUBIC resize used by clean-fid to within 1.2e-3 on the 0..255 scale), clipped to [0, 255],
then scaled to the TF range x / 128 - 1 that inception-2015-12-05 expects.

Features are computed in fixed-size chunks (the last one padded) by one jitted function per
(chunk, input size, output size), so 10k images at 256 px stream through without holding more than one
chunk of resized images in device memory.
"""

from __future__ import annotations

import functools
import hashlib
import json
import pathlib
import time

import jax
import jax.numpy as jnp
import numpy as np

from fsgen import assets
from fsgen.metrics.chunks import map_chunks
from fsgen.nets.inception import InceptionV3

FID_SIZE = 299


def to_uint8_range(images: jax.Array) -> jax.Array:
  """uint8 [B, H, W, C] or float in [-1, 1] -> float32 in 0..255 holding integers, 3 channels."""
  if jnp.issubdtype(images.dtype, jnp.floating):
    images = jnp.clip(jnp.round((images.astype(jnp.float32) + 1.0) * 127.5), 0.0, 255.0)
  images = images.astype(jnp.float32)
  if images.shape[-1] == 1:
    images = jnp.repeat(images, 3, axis=-1)
  return images


def preprocess(images: jax.Array, size: int = FID_SIZE) -> jax.Array:
  """[B, H, W, C] uint8 or [-1, 1] float -> [B, size, size, 3] in the TF range (clean-fid resize)."""
  x = to_uint8_range(images)
  if x.shape[1:3] != (size, size):
    x = jax.image.resize(x, (x.shape[0], size, size, 3), "cubic", antialias=True)
    x = jnp.clip(x, 0.0, 255.0)
  return x / 128.0 - 1.0


@functools.cache
def _params():
  return jax.device_put(assets.load("inception_fid"))


@functools.cache
def _feature_fn(size: int):
  net = InceptionV3()

  @jax.jit
  def fn(params, images):
    return net.apply({"params": params}, preprocess(images, size))["pool3"]

  return fn


def features(images, size: int = FID_SIZE, batch: int = 50) -> np.ndarray:
  """Pool3 features [N, 2048] float32 of images [N, H, W, C] (uint8, or float in [-1, 1]); chunked.

  `size` is the Inception input side: 299 for FID; smaller sides (>= 75) give cheaper, non-standard
  features for tests on the CPU.
  """
  images = np.asarray(images) if not isinstance(images, jax.Array) else images
  n = len(images)
  if n == 0:
    raise ValueError("features: no images")
  if images.ndim != 4 or images.shape[-1] not in (1, 3):
    raise ValueError(f"features: expected images [N, H, W, 1 or 3], got shape {tuple(images.shape)}")
  fn, params = _feature_fn(size), _params()
  return map_chunks(lambda x: fn(params, x), [images], min(batch, n))


def generated_features(sample_fn, key, n: int, size: int = FID_SIZE, batch: int = 50) -> np.ndarray:
  """Features [n, 2048] of n images drawn from sample_fn(fold_in(key, i), batch), i = 0, 1, ...

  Every call asks for exactly `batch` images (one compiled sampler shape; the surplus of the last call
  is dropped). When sample_fn carries a `cache` dict (fsgen.metrics.evaluate gives every evaluator of
  one evaluation the same one), the features are kept there under (key, n, size, batch), so fid, kid
  and pr run in one evaluation share one pass of generated features.
  """
  cache = getattr(sample_fn, "cache", None)
  memo = (bytes(np.asarray(jax.random.key_data(key)).tobytes()), n, size, batch)
  if cache is not None and memo in cache:
    return cache[memo]
  out = [features(sample_fn(jax.random.fold_in(key, i), batch), size, batch) for i in range(-(-n // batch))]
  feats = np.concatenate(out)[:n]
  if cache is not None:
    cache[memo] = feats
  return feats


def dataset_key(images: np.ndarray, size: int) -> str:
  """Content key of a reference set: sha256 of the uint8 images, their shape and the Inception size."""
  h = hashlib.sha256(np.ascontiguousarray(images).tobytes())
  h.update(f"{images.shape}|{images.dtype}|{size}".encode())
  return h.hexdigest()[:16]


def reference_features(
  images: np.ndarray, name: str = "data", size: int = FID_SIZE, batch: int = 50, cache: bool = True, directory=None
) -> np.ndarray:
  """Pool3 features of a real image set [N, H, W, C] uint8, cached on disk.

  The cache file is $FSGEN_ASSETS/stats/{name}-{N}x{H}x{W}x{C}-s{size}-{hash}.npz: one file per dataset,
  split and resolution (the hash covers the pixels, so a changed subset never reuses stale features).
  It holds the features, their mean and covariance (float64), and a JSON note. `directory` replaces
  $FSGEN_ASSETS/stats.
  """
  images = np.asarray(images)
  n, h, w, c = images.shape
  path = (
    pathlib.Path(directory) if directory is not None else assets.cache_dir() / "stats"
  ) / f"{name}-{n}x{h}x{w}x{c}-s{size}-{dataset_key(images, size)}.npz"
  if cache and path.exists():
    with np.load(path) as z:
      return z["features"]
  t0 = time.time()
  feats = features(images, size, batch)
  if cache:
    path.parent.mkdir(parents=True, exist_ok=True)
    mu, sigma = stats(feats)
    note = json.dumps({"name": name, "shape": [n, h, w, c], "size": size, "seconds": time.time() - t0})
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, features=feats, mu=mu, sigma=sigma, note=np.array(note))
    tmp.replace(path)
  return feats


def stats(feats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """Mean [D] and unbiased covariance [D, D] in float64 of features [N, D]."""
  f = np.asarray(feats, np.float64)
  return f.mean(0), np.cov(f, rowvar=False)


def load_reference(dataset, reference=None):
  """uint8 images [N, H, W, C] and a cache name: the training `dataset`, or `reference`, a data config
  (e.g. {'source': 'idx:../shared/data/fashion_mnist:t10k', 'resolution': 28}) loaded by fsgen.data."""
  if reference is None:
    return np.asarray(dataset.images), "train"
  from fsgen import data as fsdata  # pylint: disable=import-outside-toplevel

  ref = fsdata.load(dict(reference))
  name = str(dict(reference)["source"]).replace("/", "_").replace(":", "_")[-60:]
  return np.asarray(ref.images), name


class InceptionEvaluator:
  """Shared by the fid, kid and pr evaluators: reference features (cached) and generated features.

  Args:
    dataset: the training set (fsgen.data.Dataset); the reference unless `reference` is given.
    n: number of generated images per evaluation.
    size: Inception input side (299 = FID protocol).
    batch: chunk size of feature extraction.
    reference: optional data config of another reference set (the full dataset, a test split).
  """

  def __init__(self, dataset, n: int = 5000, size: int = FID_SIZE, batch: int = 50, reference=None):
    self.n, self.size, self.batch = int(n), int(size), int(batch)
    self._images, self._name = load_reference(dataset, reference)
    self._ref = None

  def reference(self) -> np.ndarray:
    if self._ref is None:
      self._ref = reference_features(self._images, self._name, self.size, self.batch)
    return self._ref

  def generated(self, sample_fn, key) -> np.ndarray:
    return generated_features(sample_fn, key, self.n, self.size, self.batch)
