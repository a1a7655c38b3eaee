"""Mixed precision: float32 parameters, bfloat16 compute, float32 gradients; float32 is a no-op."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from fsgen.nets.precision import Mixed, resolve, with_dtype


class _Net(nn.Module):
  @nn.compact
  def __call__(self, x, train: bool = False):
    x = nn.Conv(8, (3, 3))(x)
    x = nn.BatchNorm(use_running_average=not train)(x)
    return nn.Dense(1)(jnp.mean(nn.relu(x), axis=(1, 2)))


def test_float32_is_the_module_itself():
  net = _Net()
  assert with_dtype(net, "float32") is net
  with pytest.raises(ValueError, match="config.dtype must be one of"):
    resolve("float64")


def test_bfloat16_computes_low_precision_with_float32_params_and_grads():
  x = jax.random.normal(jax.random.key(0), (4, 8, 8, 3))
  net = _Net()
  mixed = with_dtype(net, "bfloat16")
  assert isinstance(mixed, Mixed)
  variables = mixed.init(jax.random.key(1), x)
  assert all(v.dtype == jnp.float32 for v in jax.tree.leaves(variables))
  out32 = net.apply(variables, x)
  out16, upd = mixed.apply(variables, x, train=True, mutable=["batch_stats"])
  assert out16.dtype == jnp.float32 and all(v.dtype == jnp.float32 for v in jax.tree.leaves(upd))
  np.testing.assert_allclose(mixed.apply(variables, x), out32, rtol=0.05, atol=0.05)  # bf16 has 8 mantissa bits
  loss = lambda p, m: jnp.mean(m.apply({**variables, "params": p}, x) ** 2)
  g16 = jax.grad(loss)(variables["params"], mixed)
  g32 = jax.grad(loss)(variables["params"], net)
  for a, b in zip(jax.tree.leaves(g16), jax.tree.leaves(g32)):
    assert a.dtype == jnp.float32 and np.all(np.isfinite(a))
    # bf16 rounds each product to 8 bits: compare leaves by relative norm, not element by element.
    assert np.linalg.norm(a - b) <= 0.1 * np.linalg.norm(b) + 1e-6
