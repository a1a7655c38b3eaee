"""DiffAugment: shapes, determinism, differentiability and what each op does."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from fsgen.data.diffaug import diff_augment


def _images(b=4, s=16):
  return jax.random.uniform(jax.random.key(0), (b, s, s, 3), minval=-1, maxval=1)


def test_shape_and_determinism():
  x = _images()
  a = diff_augment(jax.random.key(1), x)
  assert a.shape == x.shape
  np.testing.assert_array_equal(a, diff_augment(jax.random.key(1), x))
  assert not np.allclose(a, diff_augment(jax.random.key(2), x))


def test_gradient_flows_to_images():
  x = _images()
  g = jax.grad(lambda x: jnp.sum(diff_augment(jax.random.key(3), x) ** 2))(x)
  assert np.all(np.isfinite(g)) and np.abs(g).sum() > 0


def test_translation_moves_content_by_whole_pixels():
  x = jnp.zeros((8, 16, 16, 1)).at[:, 8, 8, 0].set(1.0)
  y = diff_augment(jax.random.key(4), x, "translation")
  for img in np.asarray(y):
    ys, xs = np.nonzero(img[..., 0])
    assert len(ys) == 1 and abs(ys[0] - 8) <= 2 and abs(xs[0] - 8) <= 2  # 16 * 1/8 = 2 px at most
  assert len({tuple(np.argwhere(img[..., 0])[0]) for img in np.asarray(y)}) > 1


def test_cutout_zeroes_a_half_side_square():
  x = jnp.ones((8, 16, 16, 3))
  y = np.asarray(diff_augment(jax.random.key(5), x, "cutout"))
  for img in y:
    zeros = (img[..., 0] == 0).sum()
    assert 0 < zeros <= 64  # an 8x8 square, clipped at the border


def test_unknown_op():
  with pytest.raises(ValueError, match="unknown DiffAugment op 'rotate'"):
    diff_augment(jax.random.key(0), _images(), "color,rotate")


def test_empty_policy_is_identity():
  x = _images()
  np.testing.assert_array_equal(diff_augment(jax.random.key(0), x, ""), x)
