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


def test_minibatch_stddev_lets_the_discriminator_see_a_batch_without_variety():
  """With mbstd_group = 4 an image's logit depends on the other images of its group (through the stddev
  channel); without it, it does not: the same image gets another logit among 3 others than among 3 copies
  of itself only when the channel is on."""
  x = jax.random.uniform(jax.random.key(0), (4, 32, 32, 1), minval=-1, maxval=1)
  copies = jnp.broadcast_to(x[:1], x.shape)
  for group, differs in ((0, False), (4, True)):
    d = dcgan.Discriminator(resolution=32, width=8, mbstd_group=group)
    p = d.init(jax.random.key(1), x)
    gap = float(jnp.abs(d.apply(p, x)[0] - d.apply(p, copies)[0]))
    assert (gap > 1e-4) == differs, (group, gap)
