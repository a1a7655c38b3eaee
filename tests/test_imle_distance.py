"""The IMLE distance (fsgen.losses.imle) takes its frozen weights as an argument and equals LPIPS + 0.1 MSE,
also on an upsampled input; the coverage evaluator and the metrics' fixed-size chunks."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from fsgen.losses import imle as imle_loss
from fsgen.metrics import coverage
from fsgen.metrics.chunks import map_chunks, pad_rows
from fsgen.metrics.lpips import weights
from fsgen.nets import lpips as lpips_net


def _images(seed, n=3, side=32):
  return jnp.asarray(np.random.default_rng(seed).uniform(-1, 1, (n, side, side, 3)).astype(np.float32))


@pytest.mark.parametrize("lpips_size", [0, 64])
def test_distance_is_lpips_plus_pixel_mse_with_weights_as_argument(lpips_size):
  dist = imle_loss.build("lpips_alex", resolution=32, l2_coef=0.1, lpips_size=lpips_size)
  assert dist.asset == "lpips_alex"
  w = weights("alex")
  a, b = _images(0), _images(1)
  side = lpips_size or 32
  up = lambda x: x if side == 32 else jax.image.resize(x, (x.shape[0], side, side, 3), "bilinear")
  expected = lpips_net.lpips(w, up(a), up(b), net="alex") + 0.1 * jnp.mean((a - b) ** 2, axis=(1, 2, 3))
  got = dist.pairwise(w, a, b)
  np.testing.assert_allclose(np.asarray(got), np.asarray(expected), rtol=1e-4)
  assert dist.features(w, a).shape == (3, dist.dim)
  # Other weights give another distance: nothing is closed over.
  zeroed = jax.tree.map(jnp.zeros_like, w)
  assert float(jnp.max(jnp.abs(dist.pairwise(zeroed, a, b) - got))) > 1e-3


def test_upsampled_distance_has_more_spatial_features():
  at32 = imle_loss.build("lpips_alex", resolution=32)
  at64 = imle_loss.build("lpips_alex", resolution=32, lpips_size=64)
  assert at64.dim > at32.dim and imle_loss.build("pixel", resolution=32).asset is None


def test_map_chunks_pads_the_last_chunk_and_trims():
  x = np.arange(10 * 2, dtype=np.float32).reshape(10, 2)
  shapes = []

  def fn(a):
    shapes.append(a.shape)
    return a * 2

  np.testing.assert_array_equal(map_chunks(fn, [x], 4), x * 2)
  assert shapes == [(4, 2)] * 3  # one compiled shape
  assert pad_rows(x[:3], 4).shape == (4, 2) and not pad_rows(x[:3], 4)[3].any()
  with pytest.raises(ValueError, match="different sizes"):
    map_chunks(fn, [x, x[:5]], 4)


class _Set:
  def __init__(self, images):
    self.images = images


def test_coverage_is_zero_for_copies_and_grows_with_noise():
  rng = np.random.default_rng(0)
  train = rng.integers(0, 256, (6, 32, 32, 3), dtype=np.uint8)
  ev = coverage.Evaluator(_Set(train), n=12, features="lpips_alex", lpips_size=64, batch=4)
  x = train.astype(np.float32) / 127.5 - 1.0
  copies = np.concatenate([x, x])

  def sampler(images):
    it = iter(range(0, len(images), 4))
    return lambda key, n: images[next(it) :][:n]

  exact = ev.run(sampler(copies), jax.random.key(0))
  noisy = ev.run(sampler(copies + 0.3 * rng.standard_normal(copies.shape).astype(np.float32)), jax.random.key(0))
  assert exact["cov_max"] < 1e-4 and exact["cov_distinct"] == 6
  assert noisy["cov_mean"] > 0.01 and noisy["cov_max"] >= noisy["cov_median"] >= 0
