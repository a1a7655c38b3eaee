"""DCGAN-style nets: output shapes and ranges at every supported resolution; bad resolution errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from fsgen.nets import dcgan
from fsgen.nets.layers import depth_to_space


@pytest.mark.parametrize("resolution", [32, 64])
def test_shapes(resolution):
  g = dcgan.Generator(resolution=resolution, channels=3, width=8)
  d = dcgan.Discriminator(resolution=resolution, width=8)
  z = jax.random.normal(jax.random.key(0), (2, 16))
  gp = g.init(jax.random.key(1), z)
  x = g.apply(gp, z)
  assert x.shape == (2, resolution, resolution, 3) and float(jnp.abs(x).max()) <= 1.0
  dp = d.init(jax.random.key(2), x)
  assert d.apply(dp, x).shape == (2,)


def test_depth_to_space_layout():
  x = jnp.arange(8.0).reshape(1, 1, 2, 4)  # two pixels, 4 = 2x2 sub-pixels of 1 channel
  y = depth_to_space(x, 2)
  np.testing.assert_array_equal(y[0, :, :, 0], [[0, 1, 4, 5], [2, 3, 6, 7]])


def test_bad_resolution():
  with pytest.raises(ValueError, match="resolution 16, 32, 64 or 128, got 48"):
    dcgan.Generator(resolution=48).init(jax.random.key(0), jnp.zeros((1, 8)))
