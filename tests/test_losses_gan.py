"""GAN losses and R1 against hand-computed values."""

import jax.numpy as jnp
import numpy as np
import pytest

from fsgen.losses.gan import d_loss, g_loss, mode_seeking_term, r1_penalty


def test_nonsaturating_values():
  real, fake = jnp.array([0.0, 2.0]), jnp.array([0.0, -1.0])
  sp = lambda v: np.log1p(np.exp(v))
  expected = np.mean([sp(0.0), sp(-2.0)]) + np.mean([sp(0.0), sp(-1.0)])
  np.testing.assert_allclose(d_loss("nonsaturating", real_logits=real, fake_logits=fake), expected, rtol=1e-6)
  np.testing.assert_allclose(g_loss("nonsaturating", fake_logits=fake), np.mean([sp(0.0), sp(1.0)]), rtol=1e-6)


def test_hinge_values():
  real, fake = jnp.array([0.5, 2.0]), jnp.array([-0.5, -3.0])
  # relu(1 - 0.5) = 0.5, relu(1 - 2) = 0 -> 0.25 ; relu(1 - 0.5) = 0.5, relu(1 - 3) = 0 -> 0.25
  np.testing.assert_allclose(d_loss("hinge", real_logits=real, fake_logits=fake), 0.5, rtol=1e-6)
  np.testing.assert_allclose(g_loss("hinge", fake_logits=fake), 1.75, rtol=1e-6)


def test_unknown_loss():
  with pytest.raises(ValueError, match="unknown GAN loss 'wgan'"):
    d_loss("wgan", real_logits=jnp.zeros(2), fake_logits=jnp.zeros(2))


def test_r1_of_a_linear_and_a_quadratic_discriminator():
  x = jnp.arange(2 * 2 * 2 * 1, dtype=jnp.float32).reshape(2, 2, 2, 1)
  w = jnp.array([1.0, -2.0, 0.5, 3.0]).reshape(1, 2, 2, 1)
  linear = lambda x: jnp.sum(x * w, axis=(1, 2, 3))
  np.testing.assert_allclose(r1_penalty(linear, x), float(jnp.sum(w**2)), rtol=1e-6)
  quad = lambda x: 0.5 * jnp.sum(x**2, axis=(1, 2, 3))  # grad = x
  np.testing.assert_allclose(r1_penalty(quad, x), float(jnp.mean(jnp.sum(x**2, axis=(1, 2, 3)))), rtol=1e-6)


def test_mode_seeking_term_by_hand():
  x1 = jnp.zeros((2, 2, 2, 1))
  x2 = jnp.stack([jnp.full((2, 2, 1), 1.0), jnp.full((2, 2, 1), -1.0)])  # [-1, 1] scale: 0.5 apart on [0, 1]
  z1, z2 = jnp.zeros((2, 3)), jnp.stack([jnp.full(3, 2.0), jnp.full(3, 1.0)])
  ms, ratio = mode_seeking_term(x1, x2, z1, z2)
  assert float(ratio) == pytest.approx((0.5 / 2.0 + 0.5 / 1.0) / 2)
  assert float(ms) == pytest.approx(1.0 / (float(ratio) + 1e-5))
