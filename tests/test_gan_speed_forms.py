"""The faster forms of the `gan` step keep its numbers: the matmul weight gradient of convolutions
(fsgen.nets.layers.conv_matmul_wgrad) against lax's, and a few `gan` steps in both forms."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from fsgen.data.info import DataInfo
from fsgen.methods import gan
from fsgen.nets import dcgan
from fsgen.nets.layers import SubPixelUp, conv_matmul_wgrad

DN = ("NHWC", "HWIO", "NHWC")


@pytest.mark.parametrize(
  "kernel,strides,padding", [((3, 3), (1, 1), "SAME"), ((4, 4), (2, 2), ((1, 1), (1, 1))), ((3, 3), (2, 2), "VALID")]
)
def test_conv_matmul_wgrad_matches_lax(kernel, strides, padding):
  kx, kw, kg = jax.random.split(jax.random.key(0), 3)
  x = jax.random.normal(kx, (3, 9, 8, 5))
  w = jax.random.normal(kw, (*kernel, 5, 7)) * 0.2
  ref = lambda x, w: jax.lax.conv_general_dilated(x, w, strides, padding, dimension_numbers=DN)
  new = lambda x, w: conv_matmul_wgrad(x, w, strides, padding)
  y_ref, vjp_ref = jax.vjp(ref, x, w)
  y_new, vjp_new = jax.vjp(new, x, w)
  np.testing.assert_array_equal(y_new, y_ref)  # the forward IS the lax convolution
  g = jax.random.normal(kg, y_ref.shape)
  (dx_ref, dw_ref), (dx_new, dw_new) = vjp_ref(g), vjp_new(g)
  np.testing.assert_array_equal(dx_new, dx_ref)  # so is the input gradient
  # The weight gradient: one GEMM instead of XLA's convolution, equal up to summation order (fp32).
  assert float(jnp.abs(dw_ref).max()) > 1.0
  np.testing.assert_allclose(dw_new, dw_ref, rtol=1e-5, atol=1e-5 * float(jnp.abs(dw_ref).max()))


def test_conv_matmul_wgrad_refuses_dilation():
  with pytest.raises(ValueError, match="no dilation"):
    conv_matmul_wgrad(jnp.zeros((1, 4, 4, 1)), jnp.zeros((3, 3, 1, 1)), (1, 1), "SAME", rhs_dilation=(2, 2))


def test_subpixel_up_forms_share_params_and_function():
  x = jax.random.normal(jax.random.key(1), (2, 4, 4, 6))
  conv, mat = SubPixelUp(3), SubPixelUp(3, weight_grad="matmul")
  p_conv, p_mat = conv.init(jax.random.key(2), x), mat.init(jax.random.key(2), x)
  assert jax.tree.structure(p_conv) == jax.tree.structure(p_mat)
  jax.tree.map(np.testing.assert_array_equal, p_conv, p_mat)
  np.testing.assert_array_equal(mat.apply(p_conv, x), conv.apply(p_conv, x))
  loss = lambda m: lambda p: jnp.sum(jnp.sin(m.apply(p, x)))
  g_conv, g_mat = jax.grad(loss(conv))(p_conv), jax.grad(loss(mat))(p_conv)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6), g_conv, g_mat)
  with pytest.raises(ValueError, match="weight_grad must be 'conv' or 'matmul'"):
    SubPixelUp(3, weight_grad="fft").init(jax.random.key(0), x)


def _gan_steps(weight_grad: str, steps: int = 3):
  c = gan.default_config()
  c.data.resolution, c.data.channels, c.batch_size = 32, 3, 8
  c.model.G.width = c.model.D.width = 8
  images = np.random.default_rng(0).integers(0, 255, (10, 32, 32, 3), np.uint8)
  data = {"images": jnp.asarray(images)}
  method = gan.Method(c, DataInfo.for_arrays(data, c.batch_size))
  method.G = dcgan.Generator(resolution=32, channels=3, width=8, weight_grad=weight_grad)
  state = method.init(jax.random.key(0), data)
  d_step, g_step = jax.jit(method.d_step), jax.jit(method.g_step)
  losses = []
  for i in range(steps):
    state, md = d_step(state, data, jax.random.key(10 + i))
    state, mg = g_step(state, data, jax.random.key(20 + i))
    losses.append((float(md["D/adv"]), float(mg["G/adv"]), float(mg["G/grad_norm"])))
  return state["params"], losses


def test_gan_steps_same_numbers_with_matmul_weight_gradient():
  p_conv, l_conv = _gan_steps("conv")
  p_mat, l_mat = _gan_steps("matmul")
  # Losses: the forward is identical, so only the earlier steps' (tiny) update differences show.
  np.testing.assert_allclose(np.array(l_mat), np.array(l_conv), rtol=1e-4)
  # Parameters after 3 Adam steps of lr 2e-4: Adam's normalised update can move an entry whose gradient is
  # near 0 by up to lr per step when float rounding flips its sign; everything else agrees to ~1e-7.
  diffs = [float(jnp.max(jnp.abs(a - b))) for a, b in zip(jax.tree.leaves(p_conv), jax.tree.leaves(p_mat))]
  assert max(diffs) < 3 * 2e-4 + 1e-6
  p_init = _gan_steps("conv", 0)[0]
  moved = [float(jnp.max(jnp.abs(a - b))) for a, b in zip(jax.tree.leaves(p_conv), jax.tree.leaves(p_init))]
  assert max(moved) > 1e-4  # the steps did train


def test_conv_matmul_wgrad_second_order_matches_lax():
  """Reverse over reverse (an R1-style penalty on the input gradient, differentiated by the weights)."""
  x = jax.random.normal(jax.random.key(3), (2, 6, 6, 3))
  w = jax.random.normal(jax.random.key(4), (3, 3, 3, 4)) * 0.3

  def penalty(conv):
    def f(w):
      gx = jax.grad(lambda x: jnp.sum(jnp.tanh(conv(x, w))))(x)
      return jnp.sum(jnp.square(gx))

    return jax.grad(f)(w)

  ref = penalty(lambda x, w: jax.lax.conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=DN))
  new = penalty(lambda x, w: conv_matmul_wgrad(x, w, (1, 1), "SAME"))
  np.testing.assert_allclose(new, ref, rtol=1e-5, atol=1e-6)
