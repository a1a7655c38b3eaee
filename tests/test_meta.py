"""fsgen.meta: MAML's inner step and meta-gradients (second order against finite differences in float64,
first order against the query gradient), the forms over tasks, ProtoNets against a NumPy reference."""

import jax
import jax.flatten_util
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from fsgen.meta import maml, protonets
from fsgen.meta.learner import MetaLearner
from fsgen.meta.over_tasks import over_tasks


def _mlp_params(key, d_in=6, hidden=5, n=3, dtype=jnp.float32):
  k1, k2, k3 = jax.random.split(key, 3)
  return {
    "w1": jax.random.normal(k1, (d_in, hidden), dtype) * 0.7,
    "b1": jax.random.normal(k2, (hidden,), dtype) * 0.1,
    "w2": jax.random.normal(k3, (hidden, n), dtype) * 0.7,
  }


def _mlp(params, x):
  """A tiny smooth net (tanh) on images [B, 1, 1, d] or [B, d] -> logits [B, n]."""
  h = jnp.tanh(x.reshape(x.shape[0], -1) @ params["w1"] + params["b1"])
  return h @ params["w2"]


def _task(key, n=3, k=2, q=4, d=6, dtype=jnp.float32):
  ks, kq = jax.random.split(key)
  return jax.random.normal(ks, (n, k, 1, 1, d), dtype), jax.random.normal(kq, (n, q, 1, 1, d), dtype)


def _ce(logits, labels):
  """Softmax cross-entropy written out (independent of maml.cross_entropy)."""
  logp = logits - jax.scipy.special.logsumexp(logits, axis=-1, keepdims=True)
  return -jnp.mean(jnp.take_along_axis(logp, labels[:, None], axis=-1))


def test_one_inner_step_is_sgd():
  params = _mlp_params(jax.random.key(0))
  support, _ = _task(jax.random.key(1))
  x, y = maml.flatten_task(support)
  assert y.tolist() == [0, 0, 1, 1, 2, 2]
  adapted = jax.jit(lambda p: maml.adapt(_mlp, p, x, y, steps=1, lr=0.4))(params)
  grads = jax.jit(jax.grad(lambda p: _ce(_mlp(p, x), y)))(params)
  for name in params:
    np.testing.assert_allclose(adapted[name], params[name] - 0.4 * grads[name], rtol=1e-5, atol=1e-6)
  assert all(float(jnp.abs(adapted[n] - params[n]).max()) > 1e-4 for n in params)  # the step moved every leaf
  # fori_loop form of two steps equals two unrolled steps
  two = jax.jit(lambda p: maml.adapt(_mlp, p, x, y, steps=2, lr=0.4))(params)
  looped = jax.jit(lambda p: maml.adapt(_mlp, p, x, y, steps=2, lr=0.4, unroll=False))(params)
  for name in params:
    np.testing.assert_allclose(two[name], looped[name], rtol=1e-5, atol=1e-6)


def test_second_order_meta_gradient_matches_central_differences_float64():
  with jax.enable_x64(True):
    params = _mlp_params(jax.random.key(0), dtype=jnp.float64)
    support, query = _task(jax.random.key(1), dtype=jnp.float64)
    flat, unravel = jax.flatten_util.ravel_pytree(params)
    loss_of = lambda p: maml.task_loss(_mlp, p, support, query, steps=2, lr=0.5)[0]
    grads = jax.jit(jax.grad(loss_of))(params)
    flat_loss = jax.jit(lambda f: loss_of(unravel(f)))
    loss = lambda p: flat_loss(jax.flatten_util.ravel_pytree(p)[0])
    g = jax.flatten_util.ravel_pytree(grads)[0]
    rng = np.random.default_rng(0)
    h = 1e-5
    for _ in range(4):
      v = rng.normal(size=flat.shape)
      v /= np.linalg.norm(v)
      fd = (loss(unravel(flat + h * v)) - loss(unravel(flat - h * v))) / (2 * h)
      np.testing.assert_allclose(float(g @ v), float(fd), rtol=1e-6, atol=1e-9)
    # each coordinate of one leaf too
    for i in range(3):
      e = np.zeros(flat.shape)
      e[i] = 1.0
      fd = (loss(unravel(flat + h * e)) - loss(unravel(flat - h * e))) / (2 * h)
      np.testing.assert_allclose(float(g[i]), float(fd), rtol=1e-6, atol=1e-9)


def test_first_order_is_the_query_gradient_at_the_adapted_params_and_differs_from_second_order():
  params = _mlp_params(jax.random.key(3))
  support, query = _task(jax.random.key(4))
  kw = dict(steps=3, lr=0.5)
  first = jax.jit(jax.grad(lambda p: maml.task_loss(_mlp, p, support, query, first_order=True, **kw)[0]))(params)
  second = jax.jit(jax.grad(lambda p: maml.task_loss(_mlp, p, support, query, **kw)[0]))(params)
  xs, ys = maml.flatten_task(support)
  xq, yq = maml.flatten_task(query)
  adapted = jax.jit(lambda p: maml.adapt(_mlp, p, xs, ys, **kw))(params)
  at_adapted = jax.jit(jax.grad(lambda p: _ce(_mlp(p, xq), yq)))(adapted)
  for name in params:
    np.testing.assert_allclose(first[name], at_adapted[name], rtol=1e-5, atol=1e-6)
  diff = jax.flatten_util.ravel_pytree(jax.tree.map(jnp.subtract, first, second))[0]
  norm = jax.flatten_util.ravel_pytree(second)[0]
  assert float(jnp.linalg.norm(diff)) > 0.05 * float(jnp.linalg.norm(norm))


def _learner_config(algorithm="maml", form="unrolled", distance="mean"):
  return ml_collections.ConfigDict(
    dict(
      learner=dict(algorithm=algorithm, width=4, blocks=1, downsample="stride"),
      maml=dict(inner_lr=0.4, inner_steps=1, eval_steps=2, first_order=False),
      protonets=dict(distance=distance),
      meta=dict(n_way=3, k_shot=2, k_query=2, task_form=form),
    )
  )


@pytest.mark.parametrize("algorithm", ["maml", "protonets"])
def test_batched_forms_over_tasks_equal_the_per_task_loop(algorithm):
  support = jax.random.normal(jax.random.key(0), (2, 3, 2, 8, 8, 1))
  query = jax.random.normal(jax.random.key(1), (2, 3, 2, 8, 8, 1))
  results = {}
  for form in ("unrolled", "vmap", "map"):
    learner = MetaLearner(_learner_config(algorithm, form))
    params = learner.init(jax.random.key(2), (8, 8, 1))
    (loss, metrics), grads = jax.jit(jax.value_and_grad(lambda p: learner.meta_loss(p, support, query), has_aux=True))(
      params
    )
    results[form] = (loss, jax.flatten_util.ravel_pytree(grads)[0])
  learner = MetaLearner(_learner_config(algorithm))
  one_task = jax.jit(lambda s, q: learner.task_loss(params, s, q)[0])
  per_task = [one_task(support[t], query[t]) for t in range(2)]
  np.testing.assert_allclose(results["unrolled"][0], np.mean(per_task), rtol=1e-5)
  for form in ("vmap", "map"):
    np.testing.assert_allclose(results[form][0], results["unrolled"][0], rtol=1e-5)
    np.testing.assert_allclose(results[form][1], results["unrolled"][1], rtol=1e-4, atol=1e-6)
  with pytest.raises(ValueError, match="task_form"):
    over_tasks(lambda a: a, "pmap", support)


def _np_protonets(fs, fq, reduction):
  """NumPy reference: fs [N, K, D], fq [M, D] -> log-probabilities over prototypes [M, N]."""
  protos = fs.mean(axis=1)
  d = ((fq[:, None, :] - protos[None]) ** 2).sum(-1)
  if reduction == "mean":
    d = d / fs.shape[-1]
  z = -d
  return z - np.log(np.exp(z - z.max(1, keepdims=True)).sum(1, keepdims=True)) - z.max(1, keepdims=True)


@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_protonets_loss_equals_numpy_reference(reduction):
  rng = np.random.default_rng(0)
  w = rng.normal(size=(6, 4)).astype(np.float32)
  embed = lambda p, x: x.reshape(x.shape[0], -1) @ p
  support = rng.normal(size=(3, 2, 1, 1, 6)).astype(np.float32)
  query = rng.normal(size=(3, 4, 1, 1, 6)).astype(np.float32)
  loss, acc = jax.jit(lambda p: protonets.task_loss(embed, p, support, query, reduction=reduction))(jnp.asarray(w))
  fs = support.reshape(6, 6) @ w
  fq = query.reshape(12, 6) @ w
  logp = _np_protonets(fs.reshape(3, 2, 4), fq, reduction)
  labels = np.repeat(np.arange(3), 4)
  np.testing.assert_allclose(float(loss), -logp[np.arange(12), labels].mean(), rtol=1e-5)
  np.testing.assert_allclose(float(acc), (logp.argmax(1) == labels).mean(), rtol=1e-6)
  # the softmax is over prototypes: each query's class probabilities sum to one
  out = protonets.logits(jnp.asarray(fq), protonets.prototypes(jnp.asarray(fs.reshape(3, 2, 4))), reduction)
  np.testing.assert_allclose(jax.nn.softmax(out, axis=-1).sum(-1), np.ones(12), rtol=1e-5)


def test_protonets_permuting_classes_permutes_logits():
  learner = MetaLearner(_learner_config("protonets"))
  params = learner.init(jax.random.key(0), (8, 8, 1))
  support = jax.random.normal(jax.random.key(1), (3, 2, 8, 8, 1))
  queries = jax.random.normal(jax.random.key(2), (5, 8, 8, 1))
  perm = np.array([2, 0, 1])

  def logits(s):
    protos = protonets.prototypes(learner.apply(params, s.reshape(6, 8, 8, 1)).reshape(3, 2, -1))
    return protonets.logits(learner.apply(params, queries), protos)

  logits = jax.jit(logits)
  np.testing.assert_allclose(logits(support[perm]), logits(support)[:, perm], rtol=1e-4, atol=1e-5)
