"""StyleGAN2 nets: shapes and feature lists, demodulation invariance, broadcast codes, minibatch stddev
grouping, patch heads, equalised learning rate."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from fsgen.nets import stylegan2 as sg

KEY = jax.random.key(0)


def _g(res=32):
  return sg.Generator(resolution=res, z_dim=8, w_dim=8, n_mlp=2, channel_base=128, channel_max=8)


def test_generator_shapes_codes_and_features():
  g = _g()
  v = jax.jit(g.init)({"params": KEY, "noise": KEY}, jnp.zeros((1, 8)))
  z = jax.random.normal(KEY, (3, 8))
  fn = jax.jit(lambda v, z: g.apply(v, z, True, rngs={"noise": KEY}))
  img, feats = fn(v, z)
  assert img.shape == (3, 32, 32, 3) and g.num_ws == 8 and g.num_feats == 7 == len(feats)
  assert [f.shape[1] for f in feats] == [4, 8, 8, 16, 16, 32, 32]
  # A [B, W] code equals the same code broadcast to every layer (same noise key).
  w = jax.jit(lambda v, z: g.apply(v, z, method="map"))(v, z)
  ws = jnp.broadcast_to(w[:, None], (3, g.num_ws, 8))
  synth = jax.jit(lambda v, c: g.apply(v, c, method="synthesize", rngs={"noise": KEY}))
  np.testing.assert_allclose(synth(v, w), synth(v, ws), atol=1e-6)
  np.testing.assert_allclose(synth(v, w), img, atol=1e-6)
  # Changing a late layer's code changes the image (codes are really used per layer).
  ws2 = ws.at[:, -1].set(0.0)
  assert float(jnp.abs(synth(v, ws2) - synth(v, ws)).max()) > 1e-4


def test_demodulation_makes_output_invariant_to_style_scale():
  m = sg.ModConv(4, 3)
  x = jax.random.normal(KEY, (2, 6, 6, 5))
  w = jax.random.normal(jax.random.key(1), (2, 7))
  v = m.init(KEY, x, w)
  scaled = jax.tree.map(lambda p: p, v)
  style = dict(v["params"]["style"])
  style["kernel"], style["bias"] = style["kernel"] * 3.0, style["bias"] * 3.0  # s -> 3 s
  scaled = {"params": {**v["params"], "style": style}}
  np.testing.assert_allclose(m.apply(v, x, w), m.apply(scaled, x, w), rtol=1e-4, atol=1e-5)
  # Without demodulation the output scales with the style.
  m2 = sg.ModConv(4, 3, demodulate=False)
  np.testing.assert_allclose(m2.apply(scaled, x, w), 3.0 * m2.apply(v, x, w), rtol=1e-4, atol=1e-5)
  # Demodulated output has unit expected second moment per channel for unit-variance inputs.
  big = jax.random.normal(KEY, (64, 16, 16, 5))
  y = m.apply(v, big, jnp.broadcast_to(w[:1], (64, 7)))
  assert 0.7 < float(jnp.mean(y[:, 1:-1, 1:-1] ** 2)) < 1.3


def test_minibatch_stddev_groups_like_rosinality():
  x = jnp.arange(8 * 2 * 2 * 1, dtype=jnp.float32).reshape(8, 2, 2, 1) ** 1.5
  y = sg.minibatch_stddev(x, 4)
  assert y.shape == (8, 2, 2, 2)
  xn = np.asarray(x).reshape(4, 2, 2, 2, 1)  # view(group, -1, ...): sample j in subgroup j % 2
  s = np.sqrt(xn.var(0) + 1e-8).mean(axis=(1, 2, 3))
  np.testing.assert_allclose(np.asarray(y[:, 0, 0, 1]), [s[j % 2] for j in range(8)], rtol=1e-5)


@pytest.mark.parametrize("res,n_patches", [(32, 3), (64, 4)])
def test_discriminator_outputs(res, n_patches):
  d = sg.Discriminator(resolution=res, channel_base=128, channel_max=8)
  x = jax.random.normal(KEY, (4, res, res, 3))
  v = jax.jit(d.init)(KEY, x)
  out = jax.jit(d.apply)(v, x)
  assert out["logit"].shape == (4,) and out["sim"].shape == (4, 8)
  assert len(out["patches"]) == n_patches
  assert sorted({p.shape[1] for p in out["patches"]}) == [16, 32]
  # Patch logits go through the fused leaky ReLU (the CDC quirk) unless switched off.
  d2 = sg.Discriminator(resolution=res, channel_base=128, channel_max=8, patch_lrelu=False)
  out2 = jax.jit(d2.apply)(v, x)
  np.testing.assert_allclose(out["logit"], out2["logit"], rtol=1e-6)
  p, p2 = out["patches"][0], out2["patches"][0]
  np.testing.assert_allclose(p, jnp.where(p2 >= 0, p2, 0.2 * p2) * np.sqrt(2), rtol=1e-5, atol=1e-6)


def test_equalised_dense_scales_at_runtime():
  d = sg.EqualDense(3, lr_mul=0.01)
  x = jnp.ones((1, 4))
  v = d.init(KEY, x)
  w = v["params"]["kernel"]
  assert 50 < float(jnp.std(w)) < 200  # stored as N(0, 1) / lr_mul
  np.testing.assert_allclose(d.apply(v, x), x @ (w * 0.01 / 2.0), rtol=1e-6)


def test_bad_resolution_is_one_line_error():
  with pytest.raises(ValueError, match="power-of-two resolution >= 16, got 48"):
    _g(48).init({"params": KEY, "noise": KEY}, jnp.zeros((1, 8)))
