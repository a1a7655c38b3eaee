"""`gan.mode_seeking`: MSGAN's term on the `gan` baseline's G step (issue 16, the quickstart's collapse)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from fsgen.data.info import DataInfo
from fsgen.losses.gan import mode_seeking_term
from fsgen.methods import gan


def _method(mode_seeking: float, batch: int = 8):
  c = gan.default_config()
  c.data.resolution, c.data.channels, c.batch_size = 16, 1, batch
  c.model.G.width = c.model.D.width = 8
  c.gan.mode_seeking = mode_seeking
  data = {"images": jnp.asarray(np.random.default_rng(0).integers(0, 255, (10, 16, 16, 1), np.uint8))}
  return gan.Method(c, DataInfo.for_arrays(data, batch)), data


def test_mode_seeking_adds_the_msgan_term_of_the_g_batch_halves_and_nothing_else():
  off, data = _method(0.0)
  on, _ = _method(2.0)
  state = off.init(jax.random.key(0), data)
  key = jax.random.key(5)
  _, m_off = jax.jit(off.g_step)(state, data, key)
  new_on, m_on = jax.jit(on.g_step)(state, data, key)
  assert "G/mode_seeking" not in m_off
  np.testing.assert_allclose(float(m_on["G/adv"]), float(m_off["G/adv"]), rtol=1e-6)  # same z, same D pass
  # The term by hand from the same codes: the G step's z is drawn from its first key split.
  z = jax.random.normal(jax.random.split(key)[0], (8, on.hp.z_dim))
  x = on.G.apply({"params": state["params"]["G"]}, z)
  ms, ratio = mode_seeking_term(x[:4], x[4:], z[:4], z[4:])
  np.testing.assert_allclose(float(m_on["G/mode_seeking"]), float(ms), rtol=1e-5)
  np.testing.assert_allclose(float(m_on["G/ms_ratio"]), float(ratio), rtol=1e-5)
  assert np.isfinite(float(m_on["G/grad_norm"])) and float(m_on["G/grad_norm"]) > float(m_off["G/grad_norm"])
  assert set(new_on["params"]) == {"G", "D"}


def test_the_term_penalises_a_generator_that_ignores_z():
  z1, z2 = jax.random.normal(jax.random.key(1), (2, 4, 16))
  same = jnp.zeros((4, 8, 8, 1))
  varied = jax.random.uniform(jax.random.key(2), (4, 8, 8, 1), minval=-1, maxval=1)
  assert float(mode_seeking_term(same, same, z1, z2)[0]) > 1e4  # 1 / eps
  assert float(mode_seeking_term(same, varied, z1, z2)[0]) < 10


def test_mode_seeking_needs_two_halves():
  with pytest.raises(ValueError, match="gan.mode_seeking needs batch_size >= 2"):
    _method(1.0, batch=1)
