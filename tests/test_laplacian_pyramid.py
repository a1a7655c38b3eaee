"""Laplacian-pyramid loss (COLA Eq. 5) against an independent NumPy reference (2-D, non-separable conv)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from fsgen.losses.laplacian_pyramid import laplacian_pyramid_loss


def _np_blur(img, k1):
  k2 = np.outer(k1, k1)
  p = len(k1) // 2
  pad = np.pad(img, ((p, p), (p, p)), mode="reflect")
  out = np.zeros_like(img)
  for i in range(img.shape[0]):
    for j in range(img.shape[1]):
      out[i, j] = (pad[i : i + len(k1), j : j + len(k1)] * k2).sum()
  return out


def _np_loss(x, y, levels, gamma, exponent, reduction):
  k1 = np.exp(-0.5 * (np.arange(5) - 2.0) ** 2)
  k1 /= k1.sum()
  red = np.mean if reduction == "mean" else np.sum
  per_image = []
  for b in range(x.shape[0]):
    total = red(np.abs(x[b] - y[b]))
    terms = [0.0] * (levels + 1)
    for c in range(x.shape[3]):
      a, e = x[b, :, :, c].astype(np.float64), y[b, :, :, c].astype(np.float64)
      for i in range(levels):
        la, le = _np_blur(a, k1), _np_blur(e, k1)
        terms[i] += np.abs((a - la) - (e - le))
        h, w = la.shape
        a = la.reshape(h // 2, 2, w // 2, 2).mean((1, 3))
        e = le.reshape(h // 2, 2, w // 2, 2).mean((1, 3))
      terms[levels] += np.abs(a - e)
    for i, t in enumerate(terms, start=1):
      # Per level: reduce over pixels and channels (the per-channel maps were summed above).
      value = t.sum() if reduction == "sum" else t.sum() / (t.size * x.shape[3])
      total += gamma * 2.0 ** (exponent * i) * value
    per_image.append(total)
  return np.mean(per_image)


@pytest.mark.parametrize(
  "levels,gamma,exponent,reduction", [(2, 1.0, -2.0, "mean"), (3, 0.5, -2.0, "sum"), (2, 1.0, 2.0, "mean")]
)
def test_equals_numpy_reference(levels, gamma, exponent, reduction):
  rng = np.random.default_rng(levels)
  x = rng.uniform(-1, 1, size=(2, 16, 16, 2)).astype(np.float32)
  y = rng.uniform(-1, 1, size=(2, 16, 16, 2)).astype(np.float32)
  fn = jax.jit(
    lambda a, b: laplacian_pyramid_loss(a, b, levels=levels, gamma=gamma, weight_exponent=exponent, reduction=reduction)
  )
  np.testing.assert_allclose(float(fn(x, y)), _np_loss(x, y, levels, gamma, exponent, reduction), rtol=2e-5)


def test_zero_for_identical_images_and_positive_otherwise():
  x = jax.random.uniform(jax.random.key(0), (2, 8, 8, 3))
  assert float(laplacian_pyramid_loss(x, x)) == 0.0
  assert float(laplacian_pyramid_loss(x, x + 0.1)) > 0.0


def test_gradient_is_finite():
  x = jax.random.uniform(jax.random.key(0), (2, 8, 8, 1))
  g = jax.grad(lambda a: laplacian_pyramid_loss(a, jnp.zeros_like(a)))(x)
  assert np.all(np.isfinite(np.asarray(g))) and float(jnp.abs(g).sum()) > 0
