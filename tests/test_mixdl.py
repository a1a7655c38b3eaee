"""MixDL: the mixup distance against NumPy, its CDC special case, coefficient sampling, the ablation
switches, and phase isolation (each phase trains exactly its own network) on both backbones."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.configs import _mixdl
from fsgen import data as fsdata
from fsgen import parallel
from fsgen.data.info import DataInfo
from fsgen.losses import mixup_distance as md
from fsgen.methods import mixdl
from fsgen.train import PhaseRunner, initial_state


def _softmax(x):
  e = np.exp(x - x.max(-1, keepdims=True))
  return e / e.sum(-1, keepdims=True)


def _np_distance(mix, edge, coeffs, direction="code"):
  """The official loop form: S_ij = cos(mix_i, edge_j); KLDivLoss(log softmax(S), softmax(C)), 'mean'."""
  n, m = coeffs.shape
  s = np.zeros((n, m))
  for i in range(n):
    for j in range(m):
      a, b = mix[i].ravel(), edge[j].ravel()
      s[i, j] = a @ b / (np.linalg.norm(a) * np.linalg.norm(b))
  q, p = _softmax(s), _softmax(coeffs)
  kl = p * (np.log(p) - np.log(q)) if direction == "code" else q * (np.log(q) - np.log(p))
  return kl.mean()


@pytest.mark.parametrize("direction", ["code", "paper"])
def test_distance_equals_numpy_reference(direction):
  rng = np.random.default_rng(0)
  mix, edge = rng.normal(size=(3, 2, 2, 5)), rng.normal(size=(3, 2, 2, 5))
  coeffs = rng.dirichlet(np.ones(3), size=3)
  got = md.mixup_distance(
    mix_feats=jnp.asarray(mix), edge_feats=jnp.asarray(edge), coeffs=jnp.asarray(coeffs), direction=direction
  )
  np.testing.assert_allclose(float(got), _np_distance(mix, edge, coeffs, direction), rtol=1e-5)
  # Directions differ, and a different target changes the value.
  other = md.mixup_distance(
    mix_feats=jnp.asarray(mix), edge_feats=jnp.asarray(edge), coeffs=jnp.asarray(coeffs[::-1]), direction=direction
  )
  assert abs(float(other) - float(got)) > 1e-4


def test_hand_computed_two_sample_value():
  # N = 2, orthogonal edges, mix = edge 0: S = [[1, 0], [1, 0]]; C = [[1, 0], [0.5, 0.5]].
  edge = jnp.array([[1.0, 0.0], [0.0, 1.0]])
  mix = jnp.array([[2.0, 0.0], [3.0, 0.0]])
  c = jnp.array([[1.0, 0.0], [0.5, 0.5]])
  q = np.exp([1.0, 0.0]) / np.exp([1.0, 0.0]).sum()
  p0 = np.exp([1.0, 0.0]) / np.exp([1.0, 0.0]).sum()
  p1 = np.array([0.5, 0.5])
  want = (np.sum(p0 * np.log(p0 / q)) + np.sum(p1 * np.log(p1 / q))) / 4  # 'mean' over N * N entries
  got = md.mixup_distance(mix_feats=mix, edge_feats=edge, coeffs=c)
  np.testing.assert_allclose(float(got), want, rtol=1e-6)
  assert float(md.similarity_kl(sims=c, coeffs=c)) == pytest.approx(0.0, abs=1e-7)


def test_layerwise_takes_each_row_from_its_layer():
  rng = np.random.default_rng(1)
  feats_mix = [rng.normal(size=(3, 4, 4, 2)), rng.normal(size=(3, 2, 2, 6))]
  feats_edge = [rng.normal(size=(3, 4, 4, 2)), rng.normal(size=(3, 2, 2, 6))]
  coeffs = rng.dirichlet(np.ones(3), size=3)
  layers = np.array([1, 0, 1])
  got = md.layerwise_mixup_distance(
    mix_feats=[jnp.asarray(f) for f in feats_mix],
    edge_feats=[jnp.asarray(f) for f in feats_edge],
    coeffs=jnp.asarray(coeffs),
    layers=jnp.asarray(layers),
  )
  # Row by row with the NumPy reference (each row's 'mean' share is 1/N of its own mean).
  want = np.mean(
    [_np_distance(feats_mix[l][i : i + 1], feats_edge[l], coeffs[i : i + 1]) for i, l in enumerate(layers)]
  )
  np.testing.assert_allclose(float(got), want, rtol=1e-5)


def test_one_hot_coefficients_reduce_to_cdc_anchor_form():
  """With C_i = e_{k_i}, the mixed codes ARE the anchors w_{k_i} and the loss is CDC's anchor form:
  KL(softmax(e_k) || softmax_j cos(f(w_k), f(w_j))) with the anchor among the batch."""
  rng = np.random.default_rng(2)
  w = jnp.asarray(rng.normal(size=(4, 6)))
  proj = jnp.asarray(rng.normal(size=(6, 8)))
  f = lambda codes: jnp.tanh(codes @ proj)  # any feature map of the codes
  perm = np.array([2, 0, 3, 1])
  c = jax.nn.one_hot(perm, 4)
  np.testing.assert_array_equal(np.asarray(c @ w), np.asarray(w[perm]))
  got = md.mixup_distance(mix_feats=f(c @ w), edge_feats=f(w), coeffs=c)
  feats = np.asarray(f(w))
  want = _np_distance(feats[perm], feats, np.eye(4)[perm])
  np.testing.assert_allclose(float(got), want, rtol=1e-5)


@pytest.mark.parametrize("kind", ["dirichlet", "gaussian", "uniform"])
def test_mixing_coefficients_lie_on_the_simplex(kind):
  c = np.asarray(md.mixing_coefficients(jax.random.key(0), 64, 4, kind=kind))
  assert c.shape == (64, 4) and np.all(c >= 0)
  np.testing.assert_allclose(c.sum(1), 1.0, rtol=1e-5)
  if kind == "dirichlet":  # Dir(1): uniform on the simplex, mean 1/4 per entry
    assert abs(c.mean() - 0.25) < 0.01 and c.std() > 0.1
  with pytest.raises(ValueError, match="unknown mixing coefficient"):
    md.mixing_coefficients(jax.random.key(0), 2, kind="beta")


def _tiny(backbone, **mixdl_overrides):
  c = _mixdl.reduce_for_test(mixdl.default_config(backbone))
  c.devices = 1
  c.progress = False
  c.mixdl.update(mixdl_overrides)
  return c


def _info(c):
  return DataInfo(num_images=10, image_shape=(32, 32, 3), num_classes=0, batch_size=c.batch_size)


@pytest.mark.parametrize(
  "g_dist,d_dist,names",
  [
    (True, True, ["D", "D_mix", "D_r1", "G", "G_mix", "G_pl"]),
    (True, False, ["D", "D_mix", "D_r1", "G", "G_mix", "G_pl"]),
    (False, False, ["D", "D_r1", "G", "G_pl"]),
  ],
)
def test_ablation_switches_set_the_schedule(g_dist, d_dist, names):
  c = _tiny("stylegan2", g_dist=g_dist, d_dist=d_dist)
  m = mixdl.Method(c, _info(c))
  phases = m.phases()
  assert [p.name for p in phases] == names
  by = {p.name: p for p in phases}
  if "D_mix" in by:  # mixup on even steps, plain steps on odd ones
    assert by["D_mix"].runs_at(0) and not by["D_mix"].runs_at(1) and by["D"].runs_at(1) and not by["D"].runs_at(0)
  else:
    assert by["D"].runs_at(0) and by["D"].runs_at(1)
  with pytest.raises(ValueError, match="multiple of mixdl.mixup_every"):
    c = _tiny("stylegan2", r1_every=3)
    mixdl.Method(c, _info(c))


def _leaves_equal(a, b):
  la, lb = jax.tree.leaves(a), jax.tree.leaves(b)
  return len(la) == len(lb) and all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(la, lb))


@pytest.mark.parametrize("backbone", ["stylegan2", "fastgan"])
def test_phases_update_only_their_network(backbone):
  """Each phase, jitted exactly as the loop does: its net changes, the other net (params, optimizer
  state, spectral-norm statistics) stays bit-identical, and MixDL terms are finite and positive."""
  c = _tiny(backbone)
  method = mixdl.Method(c, _info(c))
  mesh = parallel.make_mesh(1)
  repl = parallel.replicated(mesh)
  with jax.set_mesh(mesh):
    data = {"images": jax.device_put(jnp.asarray(fsdata.load(c.data).images), repl)}
    init = jax.jit(lambda k: initial_state(method, k, data), out_shardings=repl)
    runner = PhaseRunner(method.phases(), repl)
    key = jax.device_put(jax.random.key(1), repl)
    for i, phase in enumerate(runner.phases):
      state = init(jax.random.key(0))
      before = jax.device_get(state)
      new, metrics = runner.jitted[i](state, data, key)
      new = jax.device_get(new)
      trained = phase.name[0]
      frozen = "G" if trained == "D" else "D"
      assert not _leaves_equal(new["params"][trained], before["params"][trained]), phase.name
      assert _leaves_equal(new["params"][frozen], before["params"][frozen]), phase.name
      assert _leaves_equal(new["opt"][frozen], before["opt"][frozen]), phase.name
      assert _leaves_equal(new["extra"]["spectral"][frozen], before["extra"]["spectral"][frozen]), phase.name
      assert _leaves_equal(new.get("frozen"), before.get("frozen")), phase.name  # FastGAN's LPIPS-VGG
      if phase.name.startswith("D") and backbone == "fastgan" and phase.name != "D_r1":
        assert float(metrics["D/recon"]) > 0  # LPIPS-VGG, summed over the batch
      assert all(np.isfinite(float(v)) for v in metrics.values()), (phase.name, metrics)
      assert float(metrics[f"{trained}/grad_norm"]) > 0
      if phase.name in ("G_mix", "D_mix"):
        assert float(metrics[f"{trained}/mixdl_kl"]) > 0
      if backbone == "fastgan" and trained in ("D", "G") and phase.name != "D_r1":
        # Spectral-norm power iteration advanced for the trained net only.
        assert not _leaves_equal(new["extra"]["spectral"][trained], before["extra"]["spectral"][trained])
      if phase.name == "G_pl":
        assert float(new["extra"]["pl_mean"]) > 0 and float(before["extra"]["pl_mean"]) == 0
    samples = jax.jit(method.sample, static_argnums=2)(method.sampling_params(state), jax.random.key(0), 3)
  assert samples.shape == (3, 32, 32, 3) and float(jnp.abs(samples).max()) <= 1.0


def test_distance_gradient_reaches_generator_through_features():
  """lambda_G * L^G_dist alone (adversarial term removed by a zero D head) still moves G."""
  c = _tiny("stylegan2", lambda_g=1000.0)
  method = mixdl.Method(c, _info(c))
  data = {"images": jnp.asarray(fsdata.load(c.data).images)}
  state = method.init(jax.random.key(0), data)
  g = state["params"]["G"]

  def dist_only(g):
    codes_key, noise_key = jax.random.split(jax.random.key(3))
    cf, w, w_mix = method._mix_codes(g, codes_key)  # pylint: disable=protected-access
    _, feats, _ = method.bb.generate(g, {}, jnp.concatenate([w, w_mix]), noise_key, train=False, feats=True)
    layers = jnp.zeros((4,), jnp.int32)
    return md.layerwise_mixup_distance(
      mix_feats=[f[4:] for f in feats[1:-1]], edge_feats=[f[:4] for f in feats[1:-1]], coeffs=cf, layers=layers
    )

  grads = jax.jit(jax.grad(dist_only))(g)
  norms = {k: float(optax_norm(v)) for k, v in grads.items()}
  assert norms["map0"] > 0 and norms["conv8_up"] > 0  # through the mixed codes into the mapping network
  assert norms["rgb32"] == 0  # layers past the chosen feature map get nothing


def optax_norm(tree):
  return jnp.sqrt(sum(jnp.sum(jnp.square(x)) for x in jax.tree.leaves(tree)))


def _r1_changed_leaves(target):
  """Runs the D_r1 phase once from init (jitted as the loop does) and returns the D leaves it changed.

  D's Adam (b1 = 0) leaves a parameter bit-identical exactly when its gradient is zero, so the changed
  leaves are the ones R1's gradient reaches."""
  c = _tiny("stylegan2", r1_target=target)
  method = mixdl.Method(c, _info(c))
  mesh = parallel.make_mesh(1)
  repl = parallel.replicated(mesh)
  with jax.set_mesh(mesh):
    data = {"images": jax.device_put(jnp.asarray(fsdata.load(c.data).images), repl)}
    state = jax.jit(lambda k: initial_state(method, k, data), out_shardings=repl)(jax.random.key(0))
    before = jax.device_get(state["params"]["D"])
    runner = PhaseRunner(method.phases(), repl)
    i = [p.name for p in runner.phases].index("D_r1")
    new, metrics = runner.jitted[i](state, data, jax.device_put(jax.random.key(1), repl))
  assert np.isfinite(float(metrics["D/r1"])) and float(metrics["D/r1"]) > 0
  after = jax.device_get(new["params"]["D"])
  flat = lambda t: {jax.tree_util.keystr(p): np.asarray(v) for p, v in jax.tree_util.tree_flatten_with_path(t)[0]}
  b, a = flat(before), flat(after)
  return {k for k in b if not np.array_equal(b[k], a[k])}, set(b), runner.phases[i]


def _is_patch(name):
  return "patch_head" in name


def test_r1_target_image_reaches_every_weight_of_the_image_path():
  """The paper-era R1 (image logit): every kernel on the path to the image logit gets a gradient (the
  biases past the minibatch-stddev layer get none: R1 is piecewise constant in them), the patch heads and
  the projection none; it runs after an ordinary D step."""
  changed, names, phase = _r1_changed_leaves("image")
  image_kernels = {k for k in names if k.endswith("['kernel']") and not _is_patch(k) and "sim_linear" not in k}
  assert image_kernels and image_kernels <= changed, sorted(image_kernels - changed)
  assert not {k for k in changed if _is_patch(k) or "sim_linear" in k}
  assert phase.runs_at(1) and not phase.runs_at(0)  # step 1 mod r1_every: an ordinary step


def test_r1_target_patch_reaches_only_the_patch_path():
  """HEAD's R1 (patch logits): the patch head in use and the trunk below the patch maps get a gradient;
  the last block, the final conv, the FC layers, the logit and the projection none; on a mixup step."""
  changed, names, phase = _r1_changed_leaves("patch")
  above = {k for k in names if k.startswith(("['ResBlock_2']", "['ConvAct_1']", "['EqualDense", "['fc_bias']"))}
  above |= {k for k in names if "sim_linear" in k}
  assert above and not (above & changed), sorted(above & changed)
  assert any(_is_patch(k) for k in changed) and "['ConvAct_0']['EqualConv_0']['kernel']" in changed
  assert phase.runs_at(0)  # a mixup step


def test_r1_target_both_and_bad_value():
  changed, names, _ = _r1_changed_leaves("both")
  image_kernels = {k for k in names if k.endswith("['kernel']") and not _is_patch(k) and "sim_linear" not in k}
  assert image_kernels <= changed and any(_is_patch(k) for k in changed)
  c = _tiny("stylegan2", r1_target="logit")
  with pytest.raises(ValueError, match="mixdl.r1_target must be one of image, patch, both, got 'logit'"):
    mixdl.Method(c, _info(c))


def test_warm_start_takes_the_prior_networks():
  c = _tiny("stylegan2")
  method = mixdl.Method(c, _info(c))
  data = {"images": jnp.asarray(fsdata.load(c.data).images)}
  prior = jax.device_get(method.init(jax.random.key(5), data))
  state = method.init(jax.random.key(0), data, prior=prior)
  assert _leaves_equal(state["params"], prior["params"]) and _leaves_equal(state["ema"]["G"], prior["params"]["G"])
  assert not _leaves_equal(method.init(jax.random.key(0), data)["params"], prior["params"])
  with pytest.raises(ValueError, match="network 'D' differs"):
    bad = {"params": {**prior["params"], "D": {"x": np.zeros(1)}}}
    method.init(jax.random.key(0), data, prior=bad)
