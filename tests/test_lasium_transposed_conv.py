"""fsgen.nets.transposed_conv.SubPixelConvTranspose is flax's nn.ConvTranspose(k x k, stride s, "SAME"):
the same parameter tree and initial values, the same outputs and the same gradients (input and params),
on the odd and even sizes LASIUM's Omniglot generator uses (7 -> 14 -> 28) and a few others; and the
Omniglot generator built either way is one function of one checkpoint."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from fsgen.nets import omniglot_gan, omniglot_vae
from fsgen.nets.transposed_conv import SubPixelConvTranspose, phase_taps

# float32 sums of at most k*k*C products in another order: relative to the largest entry.
RTOL = 1e-5


def _close(a, b):
  a, b = np.asarray(a), np.asarray(b)
  scale = float(np.abs(b).max())
  assert scale > 1e-3  # a comparison of zeros proves nothing
  np.testing.assert_allclose(a, b, rtol=RTOL, atol=RTOL * scale)


@pytest.mark.parametrize(
  "k,s,hw",
  [(4, 2, (7, 7)), (4, 2, (14, 14)), (4, 2, (5, 6)), (3, 2, (7, 8)), (5, 2, (3, 4)), (3, 3, (4, 5)), (4, 1, (5, 5))],
)
def test_subpixel_equals_conv_transpose(k, s, hw):
  kx, kp, kn, kg = jax.random.split(jax.random.key(0), 4)
  x = jax.random.normal(kx, (2, *hw, 3))
  ref = nn.ConvTranspose(5, (k, k), strides=(s, s), padding="SAME")
  sub = SubPixelConvTranspose(5, k, s)
  p_ref, p_sub = ref.init(kp, x), sub.init(kp, x)
  assert jax.tree.structure(p_ref) == jax.tree.structure(p_sub)
  jax.tree.map(np.testing.assert_array_equal, p_ref, p_sub)  # same names, shapes, initialisers
  # A non-zero bias and a perturbed kernel, so every tap and the bias are exercised.
  leaves, tree = jax.tree.flatten(p_ref)
  noise = jax.random.split(kn, len(leaves))
  params = tree.unflatten([a + 0.3 * jax.random.normal(n, a.shape) for a, n in zip(leaves, noise)])
  y_ref, y_sub = ref.apply(params, x), sub.apply(params, x)
  assert y_sub.shape == y_ref.shape == (2, s * hw[0], s * hw[1], 5)
  _close(y_sub, y_ref)
  g = jax.random.normal(kg, y_ref.shape)
  loss = lambda m: lambda p, x: jnp.sum(g * jnp.tanh(m.apply(p, x)))
  (gp_ref, gx_ref), (gp_sub, gx_sub) = jax.grad(loss(ref), (0, 1))(params, x), jax.grad(loss(sub), (0, 1))(params, x)
  _close(gx_sub, gx_ref)
  jax.tree.map(_close, gp_sub, gp_ref)


def test_first_call_inside_jit():
  # The tap table is derived (and cached) on first use, which may be inside a jit trace.
  phase_taps.cache_clear()
  x = jax.random.normal(jax.random.key(0), (1, 7, 7, 2))
  sub = SubPixelConvTranspose(3, 4, 2)
  params = jax.jit(sub.init)(jax.random.key(1), x)
  assert jax.jit(sub.apply)(params, x).shape == (1, 14, 14, 3)


def test_phase_taps_cover_every_tap_once_per_phase():
  # Stride 2, kernel 4: each output phase uses 2 of the 4 taps, the two phases together all 4 exactly once.
  taps, _ = phase_taps(4, 2)
  used = sorted(int(t) for t in taps.ravel() if t >= 0)
  assert used == [0, 1, 2, 3]
  assert [int((row >= 0).sum()) for row in taps] == [2, 2]


def test_generator_forms_are_one_function_of_one_checkpoint():
  z = jax.random.normal(jax.random.key(1), (3, 16))
  sub = omniglot_gan.Generator(channels=1, width=8)
  ref = omniglot_gan.Generator(channels=1, width=8, upsample="transpose")
  p_sub, p_ref = sub.init(jax.random.key(2), z), ref.init(jax.random.key(2), z)
  # The parameter names of the first version (flax's automatic names), so its checkpoints load.
  assert set(p_sub["params"]) == {"Dense_0", "ConvTranspose_0", "ConvTranspose_1", "Conv_0"}
  assert jax.tree.structure(p_sub) == jax.tree.structure(p_ref)
  jax.tree.map(np.testing.assert_array_equal, p_sub, p_ref)
  x_sub, x_ref = sub.apply(p_ref, z), ref.apply(p_ref, z)
  assert x_sub.shape == (3, 28, 28, 1)
  _close(x_sub, x_ref)
  loss = lambda m: lambda p: jnp.sum(jnp.square(m.apply(p, z) - 0.5))
  jax.tree.map(_close, jax.grad(loss(sub))(p_ref), jax.grad(loss(ref))(p_ref))
  with pytest.raises(ValueError, match="upsample must be 'subpixel' or 'transpose'"):
    omniglot_gan.Generator(upsample="nearest").init(jax.random.key(0), z)


def test_vae_decoder_forms_are_one_function_of_one_checkpoint():
  z = jax.random.normal(jax.random.key(1), (3, 20))
  sub = omniglot_vae.Decoder(channels=1, width=8)
  ref = omniglot_vae.Decoder(channels=1, width=8, upsample="transpose")
  v_sub, v_ref = sub.init(jax.random.key(2), z), ref.init(jax.random.key(2), z)
  # flax's automatic names of the first version (strides 2, 2, 1, 1, then the logits layer) still hold.
  assert {f"ConvTranspose_{i}" for i in range(5)} <= set(v_sub["params"])
  assert jax.tree.structure(v_sub) == jax.tree.structure(v_ref)
  jax.tree.map(np.testing.assert_array_equal, v_sub, v_ref)
  (x_sub, _), (x_ref, _) = sub.apply(v_ref, z, train=False), ref.apply(v_ref, z, train=False)
  assert x_sub.shape == (3, 28, 28, 1)
  _close(x_sub, x_ref)

  def loss(m):
    def f(p):
      (images, _), _ = m.apply({**v_ref, "params": p}, z, train=True, mutable=["batch_stats"])
      return jnp.sum(jnp.square(images - 0.5))

    return f

  jax.tree.map(_close, jax.grad(loss(sub))(v_ref["params"]), jax.grad(loss(ref))(v_ref["params"]))
  with pytest.raises(ValueError, match="upsample must be 'subpixel' or 'transpose'"):
    omniglot_vae.Decoder(upsample="nearest").init(jax.random.key(0), z)
