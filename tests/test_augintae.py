"""AugIntAE: slerp, interpolable augmentations, the k rule, gradient-norm equalisation, the phases, the
three modes through the loop, and few-shot generation from seeds."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.configs import load
from fsgen import schedule, train
from fsgen.data import param_augment
from fsgen.data.info import DataInfo
from fsgen.latent import slerp
from fsgen.methods import augintae

PRESETS = ("augintae_omniglot_cpu", "intae_omniglot_cpu", "ae_omniglot_cpu")
PAPER = ("augintae_mnist", "augintae_omniglot", "augintae_cifar10", "augintae_cifar10:mode=int")


def _leaves_equal(a, b):
  return all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


# ---- latent interpolation -------------------------------------------------------------------------------


def test_slerp_endpoints_unit_norm_and_parallel_fallback():
  a, b = jax.random.normal(jax.random.key(0), (2, 5, 16))
  a, b = a / jnp.linalg.norm(a, axis=-1, keepdims=True), b / jnp.linalg.norm(b, axis=-1, keepdims=True)
  np.testing.assert_allclose(slerp(a, b, 0.0), a, atol=1e-6)
  np.testing.assert_allclose(slerp(a, b, 1.0), b, atol=1e-6)
  mid = slerp(a, b, jnp.full((5,), 0.3))
  np.testing.assert_allclose(jnp.linalg.norm(mid, axis=-1), 1.0, atol=1e-5)
  # equal angles: the point at t = 0.3 is 0.3 of the way along the arc
  ang = lambda u, v: jnp.arccos(jnp.clip(jnp.sum(u * v, -1), -1, 1))
  np.testing.assert_allclose(ang(a, mid), 0.3 * ang(a, b), atol=1e-4)
  np.testing.assert_allclose(slerp(a, a, 0.4), a, atol=1e-6)  # parallel codes: finite, the code itself
  assert np.all(np.isfinite(jax.grad(lambda x: slerp(x, x, 0.4).sum())(a[0])))


def test_slerp_is_finite_for_antipodal_and_near_antipodal_codes():
  """sin(Omega) -> 0 at Omega = pi: the guard walks a half circle, finite in value and gradient."""
  a = jax.random.normal(jax.random.key(1), (4, 32))
  a = a / jnp.linalg.norm(a, axis=-1, keepdims=True)
  near = -a + 1e-4 * jax.random.normal(jax.random.key(2), a.shape)
  near = near / jnp.linalg.norm(near, axis=-1, keepdims=True)
  for b in (-a, near):
    t = jnp.asarray([0.0, 0.3, 0.5, 1.0])
    out = slerp(a, b, t)
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(jnp.linalg.norm(out, axis=-1), 1.0, atol=1e-5)
    np.testing.assert_allclose(out[0], a[0], atol=1e-6)
    np.testing.assert_allclose(out[3], b[3], atol=2e-3)  # reached up to the eps band's angle
    np.testing.assert_allclose(jnp.sum(out[2] * a[2]), 0.0, atol=1e-3)  # the midpoint: a quarter turn
    grads = jax.grad(lambda x, y: jnp.sum(slerp(x, y, t) * jnp.arange(32.0)), argnums=(0, 1))(a, b)
    assert all(np.all(np.isfinite(g)) for g in grads)


def test_interpolate_weights_the_first_code_by_alpha():
  a, b = jnp.eye(4)[:1], jnp.eye(4)[1:2]
  for kind in ("slerp", "lerp"):
    np.testing.assert_allclose(augintae.interpolate(a, b, jnp.ones(1), kind), a, atol=1e-6)
    np.testing.assert_allclose(augintae.interpolate(a, b, jnp.zeros(1), kind), b, atol=1e-6)
  with pytest.raises(ValueError, match="interpolation"):
    augintae.interpolate(a, b, jnp.ones(1), "cubic")


# ---- augmentations ---------------------------------------------------------------------------------------


def _image(c=1, size=9, seed=0):
  return jax.random.uniform(jax.random.key(seed), (size, size, c), minval=-1, maxval=1)


def test_identity_parameters_leave_images_unchanged():
  x = _image(3)
  rho = jnp.asarray(param_augment.IDENTITY)[None]
  np.testing.assert_allclose(param_augment.apply(x[None], rho)[0], x, atol=1e-5)


def test_rotation_and_translation_move_content_as_expected():
  x = _image(1)
  rho = jnp.asarray(param_augment.IDENTITY).at[0].set(90.0)
  rotated = param_augment.warp(x, rho)
  # +90 degrees with y pointing down is a clockwise turn on screen: np.rot90 with k = -1
  np.testing.assert_allclose(rotated[..., 0], np.rot90(np.asarray(x[..., 0]), k=-1), atol=1e-5)
  rho = jnp.asarray(param_augment.IDENTITY).at[1].set(2.0).at[2].set(-1.0)
  shifted = param_augment.warp(x, rho)
  np.testing.assert_allclose(shifted[1:7, 2:], x[2:8, :-2], atol=1e-5)  # content 2 right, 1 up


def test_triplet_interpolates_the_parameters():
  """C is made with alpha rho_1 + (1 - alpha) rho_2: rebuilt from the same keys, and equal to A (B) when
  the parameters are forced to alpha = 1 (0)."""
  ranges = param_augment.ranges_for("natural")
  x = jnp.stack([_image(3, 16, s) for s in range(4)])
  key = jax.random.key(3)
  a, b, c, alpha = param_augment.triplet(key, x, ranges, "mirror")
  k1, k2, ka = jax.random.split(key, 3)
  rho1, rho2 = param_augment.sample_params(k1, 4, ranges), param_augment.sample_params(k2, 4, ranges)
  np.testing.assert_allclose(param_augment.apply(x, rho1, "mirror"), a, atol=1e-6)
  mix = alpha[:, None] * rho1 + (1 - alpha[:, None]) * rho2
  np.testing.assert_allclose(param_augment.apply(x, mix, "mirror"), c, atol=1e-6)
  assert not np.allclose(a, b)
  lo, hi = np.minimum(rho1, rho2), np.maximum(rho1, rho2)
  assert np.all((lo - 1e-6 <= mix) & (mix <= hi + 1e-6))


def test_sampled_parameters_stay_in_the_paper_ranges_and_alpha_is_triangular():
  r = param_augment.ranges_for("characters")
  rho = np.asarray(param_augment.sample_params(jax.random.key(0), 4000, r))
  assert np.abs(rho[:, 0]).max() <= 20 and np.abs(rho[:, 1:3]).max() <= 4 and np.abs(rho[:, 4]).max() <= 6
  assert 0.8 <= rho[:, 3].min() and rho[:, 3].max() <= 1.2
  np.testing.assert_array_equal(rho[:, 5:8], 1.0)  # no colour jitter for characters
  alpha = np.asarray(param_augment.interpolation_alpha(jax.random.key(1), 20000))
  assert 0 <= alpha.min() and alpha.max() <= 1 and abs(alpha.mean() - 0.5) < 0.01
  assert abs(np.mean((alpha > 0.25) & (alpha < 0.75)) - 0.75) < 0.015  # triangular: 3/4 in the middle half
  with pytest.raises(ValueError, match="fill"):
    param_augment.warp(_image(), jnp.asarray(param_augment.IDENTITY), "wrap-around")


# ---- the adversarial weighting ----------------------------------------------------------------------------


def test_k_falls_while_the_score_gap_is_below_one_and_stays_in_unit_interval():
  k = jnp.float32(0.5)
  assert augintae.update_k(k, 0.6, 0.2, 1e-3) < k  # gap 0.4 < 1
  assert augintae.update_k(k, 1.5, 0.1, 1e-3) > k  # gap 1.4 > 1
  assert augintae.update_k(jnp.float32(1.0), 2.0, 0.0, 1e-3) == 1.0
  assert augintae.update_k(jnp.float32(0.0), 0.0, 0.0, 1e-3) == 0.0


def test_gamma_equalises_the_gradient_norms_per_image():
  x = jax.random.normal(jax.random.key(0), (3, 4, 4, 1))
  target = jnp.zeros_like(x)
  rec_fn = lambda y: jnp.mean(jnp.abs(y - target), axis=(1, 2, 3))
  scale = jnp.array([1.0, 10.0, 100.0])  # three very different adversarial gradient sizes
  adv_fn = lambda y: scale * jnp.sum(jnp.square(y), axis=(1, 2, 3))
  _, gamma, _ = augintae.equalised_adversarial(rec_fn, adv_fn, x, 1e-12)
  norm = lambda g: jnp.sqrt(jnp.sum(jnp.square(g), axis=(1, 2, 3)))
  g_adv = jax.grad(lambda y: jnp.sum(jax.lax.stop_gradient(gamma) * adv_fn(y)))(x)
  g_rec = jax.grad(lambda y: jnp.sum(rec_fn(y)))(x)
  np.testing.assert_allclose(norm(g_adv), norm(g_rec), rtol=1e-5)
  # gamma carries no gradient of its own
  g_full = jax.grad(lambda y: augintae.equalised_adversarial(rec_fn, adv_fn, y, 1e-12)[0])(x)
  np.testing.assert_allclose(g_full, g_adv / 3, rtol=1e-5)


def test_gamma_equalises_the_whole_adversarial_gradient_when_images_are_coupled():
  """With D's batch norm the adversarial loss of one image depends on the others: the gradient that
  reaches each image (from every image's loss) still gets the norm of its reconstruction gradient."""
  x = jax.random.normal(jax.random.key(0), (4, 3, 3, 1))
  rec_fn = lambda y: jnp.mean(jnp.abs(y), axis=(1, 2, 3))
  scale = jnp.array([1.0, 3.0, 10.0, 30.0])
  adv_fn = lambda y: scale * jnp.sum(jnp.square(y - jnp.mean(y, 0, keepdims=True)), axis=(1, 2, 3))  # coupled
  g_adv = jax.grad(lambda y: augintae.equalised_adversarial(rec_fn, adv_fn, y, 1e-12)[0])(x)
  g_rec = jax.grad(lambda y: jnp.mean(rec_fn(y)))(x)
  norm = lambda g: jnp.sqrt(jnp.sum(jnp.square(g), axis=(1, 2, 3)))
  np.testing.assert_allclose(norm(g_adv), norm(g_rec), rtol=1e-5)
  value, _, adv = augintae.equalised_adversarial(rec_fn, adv_fn, x, 1e-12)
  np.testing.assert_allclose(value, jnp.mean(adv_fn(x)), rtol=1e-6)  # the forward value is unchanged
  np.testing.assert_allclose(adv, adv_fn(x), rtol=1e-6)


def test_lsgan_codings_cap_the_optimal_score_gap_at_b_minus_a():
  """LSGAN's optimal D outputs its targets on separable data: the -1/+1 coding lets the k rule's margin
  D(real) - D(fake) exceed 1 (k rises), the 0/1 coding never does (k can only fall)."""
  from fsgen.losses.gan import d_loss, lsgan_d_loss

  for fake, real in ((-1.0, 1.0), (0.0, 1.0)):
    out = jnp.zeros(2)  # D's outputs on one real and one fake image, trained to the optimum
    grad = jax.grad(lambda o: lsgan_d_loss(o[:1], o[1:], real, fake))
    for _ in range(200):
      out = out - 0.5 * grad(out)
    np.testing.assert_allclose(out[0] - out[1], real - fake, atol=1e-5)
  real_out, fake_out = jnp.array([0.3, 1.2]), jnp.array([-0.4, 0.1])
  np.testing.assert_allclose(
    lsgan_d_loss(real_out, fake_out), d_loss("lsgan", real_logits=real_out, fake_logits=fake_out)
  )


# ---- the method ---------------------------------------------------------------------------------------------


def _method(mode="augint", num_images=32, **hp):
  c = load(f"{dict(augint='augintae', int='intae', ae='ae')[mode]}_omniglot_cpu:test")
  c.augintae.update(hp)
  images = jnp.asarray(np.random.default_rng(0).integers(0, 255, (num_images, 28, 28, 1), np.uint8))
  data = {"images": images}
  m = augintae.Method(c, DataInfo.for_arrays(data, c.batch_size))
  return m, data, m.init(jax.random.key(0), data)


@pytest.mark.parametrize("mode", augintae.MODES)
def test_ae_phase_moves_encoder_and_decoder_and_freezes_d_and_the_d_phase_the_reverse(mode):
  m, data, state = _method(mode)
  ae, metrics = jax.jit(m.ae_step)(state, data, jax.random.key(1))
  assert _leaves_equal(ae["params"]["D"], state["params"]["D"])
  for net in ("E", "G"):
    assert not _leaves_equal(ae["params"][net], state["params"][net])
    assert np.isfinite(float(metrics[f"{net}/grad_norm"])) and float(metrics[f"{net}/grad_norm"]) > 0
  assert float(metrics["AE/recon"]) > 0 and float(metrics["AE/gamma"]) > 0
  assert float(ae["extra"]["k"]) < 1.0  # an untrained D has a score gap below 1: k falls from k_0 = 1
  d, dm = jax.jit(m.d_step)(state, data, jax.random.key(2))
  for net in ("E", "G"):
    assert _leaves_equal(d["params"][net], state["params"][net])
  assert not _leaves_equal(d["params"]["D"], state["params"]["D"]) and float(dm["D/grad_norm"]) > 0
  assert not _leaves_equal(d["batch_stats"]["D"], state["batch_stats"]["D"])  # D's batch norm statistics
  for net in ("E", "G"):
    assert _leaves_equal(d["batch_stats"][net], state["batch_stats"][net])
    assert not _leaves_equal(ae["batch_stats"][net], state["batch_stats"][net])
  assert _leaves_equal(ae["batch_stats"]["D"], state["batch_stats"]["D"])


def test_intae_logs_d_and_the_push_share_of_its_interpolations():
  """IntAE's diagnostics: D on the reconstructions and on the interpolations average to D on all decoded
  images (2 : 1), and the interpolation's share of the equalised push is a fraction, checked against the
  helper on a push that puts all of it on one slot."""
  m, data, state = _method("int")
  _, metrics = jax.jit(m.ae_step)(state, data, jax.random.key(1))
  d_all = (2 * float(metrics["AE/d_recon"]) + float(metrics["AE/d_interp"])) / 3
  np.testing.assert_allclose(d_all, float(metrics["AE/d_fake"]), rtol=1e-4, atol=1e-6)
  assert 0.0 < float(metrics["AE/push_interp"]) < 1.0
  _, dm = jax.jit(m.d_step)(state, data, jax.random.key(2))
  assert np.isfinite(float(dm["D/interp"]))
  push = jnp.zeros((4, 3, 2, 2, 1)).at[:, 2].set(1.0)
  out = augintae._slot_metrics(jnp.arange(12.0).reshape(4, 3), push)
  assert float(out["AE/push_interp"]) == pytest.approx(1.0)
  assert float(out["AE/d_interp"]) == pytest.approx(np.mean([2, 5, 8, 11]))


def test_k_rises_again_once_d_separates_real_from_fake_and_falls_while_d_is_fooled():
  """The adaptive k of Eq. 4-6 through the method's phases, with the -1/+1 coding: a D trained for a few
  steps separates the real images from an untrained decoder's output by a margin above 1 and k climbs
  back; a fooled D (constant output: margin 0) lowers k. (Under the 0/1 coding the optimal D's margin is
  at most 1: test_lsgan_codings_cap_the_optimal_score_gap_at_b_minus_a.)"""
  m, data, state = _method()
  assert (m.hp.lsgan.fake, m.hp.lsgan.real, m.hp.lsgan.generator) == (-1.0, 1.0, 1.0)  # the default coding
  state = {**state, "extra": {**state["extra"], "k": jnp.float32(0.5)}}
  d_step, ae_step = jax.jit(m.d_step), jax.jit(m.ae_step)
  trained = state
  for i in range(25):
    trained, _ = d_step(trained, data, jax.random.key(100 + i))
  _, metrics = ae_step(trained, data, jax.random.key(1))
  margin, k = float(metrics["AE/margin"]), float(metrics["AE/k"])
  np.testing.assert_allclose(margin, float(metrics["AE/d_real"]) - float(metrics["AE/d_fake"]), rtol=1e-5)
  assert margin > 1.0 and k == pytest.approx(0.5 + 1e-3 * (margin - 1.0), rel=1e-5)
  fooled = jax.tree.map(jnp.zeros_like, state["params"]["D"]["Dense_1"])  # D outputs 0 for every image
  fooled_state = {**trained, "params": {**trained["params"], "D": {**trained["params"]["D"], "Dense_1": fooled}}}
  _, metrics = ae_step(fooled_state, data, jax.random.key(1))
  assert abs(float(metrics["AE/margin"])) < 1e-6 and float(metrics["AE/k"]) == pytest.approx(0.5 - 1e-3)


def test_nets_use_batch_norm_where_the_paper_says():
  """E, G and D (the encoder's architecture, paper A.1) carry batch statistics for both backbones,
  the DCGAN decoder included; d_norm='pixel' leaves D stateless."""
  from fsgen.nets import autoencoder

  for arch, res, ch in (("infogan", 28, 1), ("dcgan", 32, 3)):
    nets = autoencoder.build(arch, resolution=res, channels=ch, latent_dim=16, width=8)
    x, z = jnp.zeros((2, res, res, ch)), jax.random.normal(jax.random.key(0), (2, 16))
    for net, inp, shape in zip(nets, (x, z, x), ((2, 16), (2, res, res, ch), (2, 1))):
      variables = net.init(jax.random.key(1), inp)
      assert "batch_stats" in variables, (arch, type(net).__name__)
      assert net.apply(variables, inp, train=False).shape == shape
    d = autoencoder.build(arch, resolution=res, channels=ch, latent_dim=16, width=8, d_norm="pixel")[2]
    assert "batch_stats" not in d.init(jax.random.key(1), x)


def test_without_the_gan_term_there_is_no_d_phase_and_the_lr_drops_tenfold():
  m, data, state = _method(adversarial=False, num_images=36)
  assert [p.name for p in m.phases()] == ["AE"]
  ae, metrics = jax.jit(m.ae_step)(state, data, jax.random.key(1))
  assert "AE/adv" not in metrics and float(ae["extra"]["k"]) == 1.0
  epoch = 5  # ceil(36 / 8) steps per epoch (the last batch partial); drops at epochs 35 and 70
  lr = m.ae_learning_rate()
  steps = (0, 35 * epoch - 1, 35 * epoch, 70 * epoch - 1, 70 * epoch)
  assert [float(lr(s)) for s in steps] == pytest.approx([1e-3, 1e-3, 1e-4, 1e-4, 1e-5])
  info = DataInfo(2720, (28, 28, 1), 136, 64)
  assert augintae.Method(load("augintae_omniglot_cpu"), info).ae_learning_rate() == 1e-3  # GAN term: constant


def test_reconstruction_loss_decreases_when_training():
  """On pages of blocky strokes (uniform noise has no structure to learn: its L1 plateaus near 0.34)."""
  m, _, state = _method(adversarial=False)
  coarse = np.random.default_rng(0).normal(size=(32, 7, 7, 1))
  data = {"images": jnp.asarray((np.kron(coarse, np.ones((1, 4, 4, 1))) > 0.8).astype(np.uint8) * 255)}
  step = jax.jit(m.ae_step)
  losses = []
  for i in range(40):
    state, metrics = step(state, data, jax.random.key(i))
    losses.append(float(metrics["AE/recon"]))
  assert np.mean(losses[-5:]) < 0.8 * np.mean(losses[:5])


def test_generate_interpolates_between_distinct_seeds():
  m, data, state = _method()
  params = m.sampling_params(state)
  seeds = params["seeds"][:3]
  out = m.generate(params, jax.random.key(0), seeds, 12, alphas=(0.0, 0.5, 1.0))
  assert out.shape == (12, 28, 28, 1) and float(jnp.abs(out).max()) <= 1.0
  recon = m.reconstruct(params, seeds)
  # at alpha = 1 and 0 each path decodes one seed's code: a reconstruction, from two different seeds
  ends = out.reshape(4, 3, 28, 28, 1)
  for path in ends:
    i = [int(np.argmin(np.abs(np.asarray(recon - e)).sum((1, 2, 3)))) for e in (path[2], path[0])]
    np.testing.assert_allclose(path[2], recon[i[0]], atol=1e-5)
    np.testing.assert_allclose(path[0], recon[i[1]], atol=1e-5)
    assert i[0] != i[1]
  assert m.sample(params, jax.random.key(1), 5).shape == (5, 28, 28, 1)
  with pytest.raises(ValueError, match="at least 2 seed"):
    m.generate(params, jax.random.key(0), seeds[:1], 4)
  with pytest.raises(ValueError, match="multiple"):
    m.generate(params, jax.random.key(0), seeds, 4, alphas=(0.25, 0.5, 0.75))


def test_bad_mode_is_a_clear_error():
  c = load("augintae_omniglot_cpu:test")
  c.augintae.mode = "vae"
  with pytest.raises(ValueError, match="augintae.mode"):
    augintae.Method(c, DataInfo(32, (28, 28, 1), 0, 8))


@pytest.mark.parametrize("name", PRESETS + PAPER)
def test_preset_trains_two_steps_at_test_size(name, tmp_path):
  c = load(f"{name},test" if ":" in name else f"{name}:test")
  c.devices, c.progress = 1, False
  result = train.train_and_evaluate(c, tmp_path)
  assert int(result.state["step"]) == 2 and result.trace_counts == {"D": 1, "AE": 1}
  lines = [json.loads(l) for l in (tmp_path / "metrics.jsonl").read_text().splitlines()]
  values = [v for l in lines for k, v in l.items() if k != "step"]
  assert values and np.all(np.isfinite(values)) and any("AE/k" in l for l in lines)
  assert list((tmp_path / "samples").glob("*.png"))


def test_full_size_presets_keep_the_papers_settings():
  for name in PRESETS:
    c = load(name)
    assert (c.data.resolution, c.augintae.latent_dim, c.model.arch) == (28, 32, "infogan")
    assert c.augintae.interpolation == "slerp"
    assert c.optim.AE.learning_rate == 1e-3 and c.augintae.adversarial and c.total_epochs == 100
    assert schedule.steps(c, "total_steps", DataInfo(2720, (28, 28, 1), 136, 64)) == 100 * 43
    assert c.augintae.augment.rotation == 20 and tuple(c.augintae.augment.scale) == (0.8, 1.2)
  c = load("augintae_cifar10:mode=ae")
  assert (c.data.resolution, c.augintae.latent_dim, c.model.arch, c.augintae.mode) == (64, 512, "dcgan", "ae")
  assert (c.augintae.augment.rotation, c.augintae.augment.translation, c.augintae.augment.hue) == (10, 8, 0.05)
  assert c.augintae.fill == "mirror" and c.total_epochs == 100
  assert schedule.steps(c, "total_steps", DataInfo(50000, (64, 64, 3), 10, 64)) == 100 * 782


def test_one_device_equals_four(tmp_path):
  runs, first = [], []
  for devices in (1, 4):
    c = load("augintae_omniglot_cpu:test")
    c.devices, c.progress, c.total_steps, c.log_every = devices, False, 1, 1
    runs.append(train.train_and_evaluate(c, tmp_path / str(devices)).state)
    first.append(json.loads((tmp_path / str(devices) / "metrics.jsonl").read_text().splitlines()[0]))
  assert runs[1]["params"]["G"]["Dense_0"]["kernel"].sharding.num_devices == 4
  # step 0 sees the same batch, augmentations and nets: losses, gamma and k agree to float precision
  for key in ("AE/recon", "AE/adv", "AE/gamma", "AE/k", "D/adv"):
    np.testing.assert_allclose(first[0][key], first[1][key], rtol=1e-4)
  # after one step (D and AE phases) the nets agree to float noise. Adam's first update is lr * g / |g|,
  # so a weight whose true gradient is zero (a dense bias right before batch norm, which cancels it)
  # moves by +-lr on noise alone: up to 2 lr apart. All other weights agree to 1e-4.
  diffs = np.concatenate(
    [
      np.abs(np.asarray(a) - np.asarray(b)).ravel()
      for a, b in zip(jax.tree.leaves(runs[0]["params"]), jax.tree.leaves(runs[1]["params"]))
    ]
  )
  print("max diff", diffs.max(), "share < 1e-4", np.mean(diffs < 1e-4))
  assert diffs.max() <= 2.001e-3 and np.mean(diffs < 1e-4) > 0.99


def _reproduction():
  import importlib.util

  from conftest import ROOT

  spec = importlib.util.spec_from_file_location("repro_augintae", ROOT / "experiments/reproduce/augintae.py")
  repro = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(repro)
  return repro


def test_reproduction_splits_omniglot_into_train_and_truly_novel_alphabets():
  """The reproduction's novel domain: small2 minus the alphabets small1 also has (Greek, Latin)."""
  from conftest import shared_path

  shared_path("omniglot", "images_background_small2.zip")
  repro = _reproduction()
  train_images, novel, labels = repro.load_domains()
  assert train_images.shape == (2720, 28, 28, 1) and novel.shape == (2120, 28, 28, 1)
  assert len(np.unique(labels)) == 106 and np.bincount(labels).tolist() == [20] * 106
  seeds = repro.seed_images(labels, shots=6, seed=0)
  assert seeds.shape == (106, 6) and np.all(labels[seeds] == np.arange(106)[:, None])
  assert all(len(set(row)) == 6 for row in seeds.tolist())
  c, i, j, alpha = repro.few_shot_pairs(jax.random.key(0), 106, 6, 2208, (0.25, 0.5, 0.75))
  assert len(c) == len(i) == 2208 and np.all(i != j) and np.all((i < 6) & (j < 6)) and np.all(c < 106)
  np.testing.assert_allclose(np.asarray(alpha[:3]), (0.25, 0.5, 0.75))
  assert np.all(np.asarray(c).reshape(-1, 3) == np.asarray(c)[::3, None])  # 3 points per path, one class
  assert len(np.unique(np.asarray(c))) > 90  # the paths spread over the novel characters


def test_reproduction_runs_its_whole_path_at_reduced_size(tmp_path):
  """Training, reconstruction errors, the domain classifier (batch norm), few-shot FID/KID and domain
  error through fsgen.metrics.evaluate, both reference rows, the grid, the table and the k traces; a re-run reads the
  finished cells back instead of recomputing them."""
  from conftest import shared_path

  shared_path("omniglot", "images_background_small2.zip")
  repro = _reproduction()
  argv = ["--presets", "augintae_omniglot_cpu:test", "--workdir", str(tmp_path), "--n", "48", "--classes", "3"]
  argv += ["--inception_size", "75", "--domain_steps", "3", "--set", "model.upsample=subpixel"]
  text = repro.main(argv)
  run_config = json.loads((tmp_path / "augintae_omniglot_cpu_test_s0" / "config.json").read_text())
  assert run_config["model"]["upsample"] == "subpixel"  # the --set reached the trained config
  cell = json.loads((tmp_path / "cells" / "augintae_omniglot_cpu_test_s0.json").read_text())
  for key in ("recon_train", "recon_novel", "fid", "kid", "domain_error", "domain_clf_accuracy"):
    assert np.isfinite(cell[key]), key
  assert cell["recon_novel"] > 0 and cell["fid"] > 0 and 0 <= cell["domain_error"] <= 100
  fade = json.loads((tmp_path / "cells" / "pixel_fade_s0.json").read_text())
  assert fade["fid"] != cell["fid"]
  assert "Cells ran: 3 of 3" in text and "| pixel fade |" in text and "| real novel |" in text
  assert (tmp_path / "augintae_omniglot_cpu_test_s0_novel.png").exists() and (tmp_path / "novel_s0.png").exists()
  generations = np.load(tmp_path / "augintae_omniglot_cpu_test_s0_novel.npy")
  assert generations.shape == (3, 6, 28, 28, 1) and np.all(np.abs(generations) <= 1)
  trace = (tmp_path / "traces.md").read_text().splitlines()
  assert trace[0] == "augintae_omniglot_cpu:test, seed 0" and trace[2].startswith("| step | k | margin |")
  last = trace[4].split(" | ")  # the last logged step: k in [0, 1], a finite margin
  assert 0.0 <= float(last[1]) <= 1.0 and np.isfinite(float(last[2]))
  mtime = (tmp_path / "cells" / "pixel_fade_s0.json").stat().st_mtime_ns
  assert repro.main(argv) == text  # resumed: every cell read back
  assert (tmp_path / "cells" / "pixel_fade_s0.json").stat().st_mtime_ns == mtime
  with pytest.raises(SystemExit, match="overrides.json holds overrides"):  # one setting per workdir
    repro.main(argv[:-1] + ["model.upsample=transpose"])


def test_reproduction_set_is_typed_and_names_bad_keys():
  repro = _reproduction()
  config = load("augintae_omniglot_cpu:test")
  assert repro.parse_set("model.upsample=subpixel", config) == ("model.upsample", "subpixel")
  assert repro.parse_set("model.width=32", config) == ("model.width", 32)
  assert repro.parse_set("augintae.adversarial=false", config) == ("augintae.adversarial", False)
  with pytest.raises(ValueError, match="unknown config key 'model.nope'"):
    repro.parse_set("model.nope=1", config)
  with pytest.raises(ValueError, match="model.width needs a value of type int"):
    repro.parse_set("model.width=wide", config)


def test_grid_score_finds_a_period_4_pattern_and_not_strokes():
  """experiments/reproduce/augintae_stripes.py: a pure period-4 pattern scores 1, a stroke on a page and
  white noise stay near the 15/783 share of a flat spectrum."""
  import importlib.util

  from conftest import ROOT

  spec = importlib.util.spec_from_file_location("stripes", ROOT / "experiments/reproduce/augintae_stripes.py")
  stripes = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(stripes)
  rows = jnp.tile(jnp.asarray([1.0, 1.0, -1.0, -1.0]), 7)
  pattern = jnp.broadcast_to(rows[:, None] * rows[None, :], (2, 28, 28))[..., None]
  assert stripes.grid_score(pattern)[0] == pytest.approx(1.0, abs=1e-5)
  page = (-jnp.ones((1, 28, 28, 1))).at[:, 6:22, 12:15].set(1.0)
  noise = jax.random.normal(jax.random.key(0), (8, 28, 28, 1))
  assert stripes.grid_score(page)[0] < 0.05 and stripes.grid_score(noise)[0] < 0.05
  assert stripes.dark_share(page) == pytest.approx(1 - 48 / 784) and stripes.dark_share(-page) == pytest.approx(
    48 / 784
  )
  with pytest.raises(ValueError, match="period 3"):
    stripes.grid_score(page, period=3)


def test_transpose_upsampling_is_the_original_4x4_stride2_transposed_conv():
  """model.upsample="transpose": the InfoGAN decoder equals the same net built from flax ConvTranspose
  (4x4, stride 2, SAME) with the same parameters; a bad value is refused naming the key."""
  import flax.linen as nn

  from fsgen.nets import autoencoder

  class Reference(nn.Module):
    @nn.compact
    def __call__(self, z):
      h = nn.relu(nn.BatchNorm(use_running_average=True)(nn.Dense(1024)(z)))
      h = nn.relu(nn.BatchNorm(use_running_average=True)(nn.Dense(7 * 7 * 16)(h))).reshape(-1, 7, 7, 16)
      h = nn.ConvTranspose(8, (4, 4), (2, 2), padding="SAME", name="SubPixelConvTranspose_0")(h)
      h = nn.relu(nn.BatchNorm(use_running_average=True, name="BatchNorm_2")(h))
      return jnp.tanh(nn.ConvTranspose(1, (4, 4), (2, 2), padding="SAME", name="SubPixelConvTranspose_1")(h))

  decoder = autoencoder.InfoGANDecoder(28, 1, width=8, upsample="transpose")
  z = jax.random.normal(jax.random.key(1), (3, 32))
  variables = decoder.init(jax.random.key(2), z, train=False)
  ours = decoder.apply(variables, z, train=False)
  theirs = Reference().apply(variables, z)
  assert ours.shape == (3, 28, 28, 1)
  np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), atol=1e-5)
  with pytest.raises(ValueError, match="model.upsample"):
    autoencoder.build("infogan", resolution=28, channels=1, latent_dim=32, width=8, upsample="nearest")
