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


# ---- config.dtype in every method: one step of each at init, bfloat16 against float32 -----------------

# One preset per method (its reduced `test` form); lasium_omniglot's task generator is untrained here.
METHOD_PRESETS = [
  "quickstart",  # gan
  "mixdl_panda10_cpu",  # mixdl (StyleGAN2 backbone)
  "scola_fmnist_5spc_cpu",  # scola (cola's generator)
  "cola_fmnist_cpu:stage=1",  # cola_encoder
  "augintae_omniglot_cpu",  # augintae
  "adaimle_panda100_cpu",  # adaptive_imle
  "imle_panda100_cpu",  # imle
  "lasium_gan_omniglot",  # lasium_gan
  "lasium_vae_omniglot",  # lasium_vae
  "lasium_omniglot",  # lasium (MAML on generated tasks)
  "lasium_supervised_omniglot",  # lasium_supervised
]
# bf16 keeps 8 mantissa bits: each loss at init within 10% (+0.05 absolute for terms near zero) of float32.
RTOL, ATOL = 0.1, 0.05


def _first_step_metrics(name: str, dtype: str):
  """Every phase of `name`'s method run once from the same initial state and key: {phase/metric: float}
  and the dtypes of the state's params."""
  from experiments import configs
  from fsgen import data as fsdata
  from fsgen import methods
  from fsgen.data.info import DataInfo
  from fsgen.train import initial_state

  spec = f"{name},test" if ":" in name else f"{name}:test"
  c = configs.load(spec)
  c.dtype = dtype
  dataset = fsdata.load(c.data)
  data = {"images": jnp.asarray(dataset.images)}
  if dataset.labels is not None:
    data["labels"] = jnp.asarray(dataset.labels)
  method = methods.build(c, DataInfo.of(dataset, c.batch_size))
  state = jax.jit(lambda k, d: initial_state(method, k, d))(jax.random.key(0), data)
  metrics = {}
  for phase in method.phases():
    _, m = jax.jit(phase.fn)(state, data, jax.random.key(1))
    metrics.update({f"{phase.name}/{k}": float(v) for k, v in jax.device_get(m).items() if np.ndim(v) == 0})
  return metrics, {str(x.dtype) for x in jax.tree.leaves(state["params"])}


@pytest.mark.parametrize("name", METHOD_PRESETS)
def test_a_bfloat16_step_of_each_method_is_finite_and_agrees_with_float32_at_init(name):
  m32, _ = _first_step_metrics(name, "float32")
  m16, param_dtypes = _first_step_metrics(name, "bfloat16")
  assert param_dtypes == {"float32"}  # parameters (and so optimizer state) stay float32
  assert m16.keys() == m32.keys() and m16
  assert all(np.isfinite(v) for v in m16.values()), m16
  # Gradient norms: finite and non-zero, not compared (measured: MixDL's D_mix 0.66 vs 1.01, the MAML
  # meta-gradient through 5 inner steps 0.46 vs 0.27, i.e. bf16 rounding is differentiated too).
  norms = {k: v for k, v in m16.items() if k.endswith("grad_norm")}
  assert all(v > 0 for v in norms.values()), norms
  losses = {k: v for k, v in m32.items() if k not in norms}
  bad = {k: (m16[k], v) for k, v in losses.items() if abs(m16[k] - v) > RTOL * abs(v) + ATOL}
  assert not bad, f"bfloat16 vs float32 (rtol {RTOL}, atol {ATOL}): {bad}"


def test_an_unknown_dtype_is_refused_naming_the_key():
  from experiments import configs
  from fsgen import validate

  c = configs.load("quickstart:test")
  c.dtype = "float64"
  with pytest.raises(ValueError, match=r"config.dtype='float64': must be one of"):
    validate.loop_config(c)
