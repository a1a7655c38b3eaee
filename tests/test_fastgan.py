"""FastGAN nets: shapes at several sizes, SLE gating, spectral normalisation through flax's
nn.SpectralNorm (its collection threaded like batch stats), quadrant crops, reconstruction decoders."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from fsgen.losses import perceptual
from fsgen.nets import fastgan as fg

KEY = jax.random.key(0)


@pytest.mark.parametrize("res", [32])
def test_generator_and_discriminator_shapes(res):
  g = fg.Generator(resolution=res, z_dim=8, width=4)
  vg = jax.jit(g.init)({"params": KEY, "noise": KEY}, jnp.zeros((2, 8)))
  assert set(vg) == {"params", fg.SPECTRAL}
  (big, small), feats = jax.jit(lambda v, z: g.apply(v, z, False, True, rngs={"noise": KEY}))(
    vg, jax.random.normal(KEY, (3, 8))
  )
  assert big.shape == (3, res, res, 3) and small.shape == (3, res // 2, res // 2, 3)
  assert len(feats) == g.num_feats and feats[-1].shape[1] == res
  assert float(jnp.abs(big).max()) <= 1.0
  d = fg.Discriminator(resolution=res, width=4, proj_dim=6)
  vd = jax.jit(lambda k, x: d.init(k, x, False, 0))(KEY, (big, small))
  out = jax.jit(lambda v, x: d.apply(v, x, False, 3))(vd, (big, small))
  assert out["logit"].shape == (3, 50) and out["sim"].shape == (3, 6)
  assert [p.shape[1] for p in out["patches"]] == [32, 16]
  assert all(r.shape == (3, res // 2, res // 2, 3) for r in out["recon"])
  loss = perceptual.reconstruction_loss(out["recon"], big, 3)
  assert loss.shape == () and float(loss) > 0


def test_spectral_norm_statistics_update_only_when_training():
  conv = fg.SNConv(5, 3)
  x = jax.random.normal(KEY, (2, 6, 6, 4))
  v = conv.init(KEY, x, False)
  w = np.asarray(v["params"]["Conv_0"]["kernel"]).reshape(-1, 5)
  _, frozen = conv.apply(v, x, False, mutable=[fg.SPECTRAL])
  assert jax.tree.all(jax.tree.map(np.array_equal, frozen[fg.SPECTRAL], v[fg.SPECTRAL]))
  stats = v[fg.SPECTRAL]
  update = jax.jit(
    lambda s: conv.apply({"params": v["params"], fg.SPECTRAL: s}, x, True, mutable=[fg.SPECTRAL])[1][fg.SPECTRAL]
  )
  for _ in range(30):  # power iteration converges to the top singular value
    stats = update(stats)
  sigmas = [float(leaf) for path, leaf in jax.tree_util.tree_flatten_with_path(stats)[0] if "sigma" in str(path)]
  np.testing.assert_allclose(sigmas[0], np.linalg.svd(w, compute_uv=False)[0], rtol=1e-3)


def test_sle_gates_channels_of_the_target():
  sle = fg.SLE()
  src, tgt = jax.random.normal(KEY, (2, 8, 8, 3)), jax.random.normal(jax.random.key(1), (2, 16, 16, 4))
  v = sle.init(KEY, src, tgt, False)
  y = sle.apply(v, src, tgt, False)
  ratio = np.asarray(y / tgt)
  assert y.shape == tgt.shape and np.all((ratio > 0) & (ratio < 1))
  np.testing.assert_allclose(ratio, np.broadcast_to(ratio[:, :1, :1], ratio.shape), rtol=1e-4)  # per channel


def test_crop_quadrant_matches_slicing():
  x = jnp.arange(2 * 4 * 4 * 1).reshape(2, 4, 4, 1)
  for part, (r, c) in enumerate([(0, 0), (0, 2), (2, 0), (2, 2)]):
    np.testing.assert_array_equal(fg.crop_quadrant(x, part), x[:, r : r + 2, c : c + 2])


def test_batch_norm_uses_batch_statistics():
  bn = fg.BatchNorm()
  x = 3.0 + 2.0 * jax.random.normal(KEY, (16, 4, 4, 2))
  v = bn.init(KEY, x)
  y = (bn.apply(v, x) - v["params"]["bias"]) / v["params"]["scale"]
  np.testing.assert_allclose(np.asarray(y.mean((0, 1, 2))), 0, atol=1e-5)
  np.testing.assert_allclose(np.asarray(y.std((0, 1, 2))), 1, atol=1e-3)


def test_bad_resolution_is_one_line_error():
  with pytest.raises(ValueError, match="resolution 32, 64, 128, 256, 512 or 1024, got 48"):
    fg.Generator(resolution=48, z_dim=4, width=4).init({"params": KEY, "noise": KEY}, jnp.zeros((2, 4)))


def test_reconstruction_loss_lpips_vgg_is_zero_on_targets_and_trains_the_decoders():
  from fsgen import assets  # pylint: disable=import-outside-toplevel

  params = jax.tree.map(jnp.asarray, assets.load("lpips_vgg"))
  real = jax.random.uniform(jax.random.key(0), (2, 32, 32, 3), minval=-1.0, maxval=1.0)
  resize = lambda x: jax.image.resize(x, (2, 16, 16, 3), "bilinear", antialias=True)
  exact = (resize(real), resize(real), resize(fg.crop_quadrant(real, 3)))
  assert float(perceptual.reconstruction_loss(exact, real, 3, params)) < 1e-6
  noisy = tuple(e + 0.3 * jax.random.normal(jax.random.key(i), e.shape) for i, e in enumerate(exact))
  loss, grads = jax.value_and_grad(lambda r: perceptual.reconstruction_loss(r, real, 3, params))(noisy)
  one = perceptual.reconstruction_loss(tuple(n[:1] for n in noisy), real[:1], 3, params)  # sums over the batch
  assert float(loss) > float(one) > 0
  assert all(np.isfinite(np.asarray(g)).all() and float(jnp.abs(g).max()) > 0 for g in grads)
  assert float(perceptual.reconstruction_loss(noisy, real, 3)) > 0  # the L1 option
