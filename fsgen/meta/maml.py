"""MAML (Finn et al. 2017): inner SGD on a params tree, differentiated through by the meta-gradient.

A task is support images [N, K, H, W, C] (class n's K shots in row n) and queries [N, Q, H, W, C]; labels
are the row indices 0..N-1 (as the official code: fixed order, no shuffling). For one task,

  theta_0 = theta,   theta_{s+1} = theta_s - inner_lr * grad_theta CE(f(theta_s, support), labels)
  L_task(theta) = CE(f(theta_steps, queries), query labels),

and the meta-learner descends the mean of L_task over a meta-batch. Second order (the default, as the
official `first_order=False`): jax.grad runs through the inner gradients. First order: each inner
gradient is a constant (stop_gradient), so d theta_steps / d theta = I and the meta-gradient is the query
gradient at the adapted parameters. Every leaf of the tree is adapted (conv kernels and biases, the batch
norm offsets, the dense head), as the official inner loop updates all trainable variables. `apply_fn`
uses batch statistics (fsgen.nets.omniglot_learner): the support batch in the inner steps, the query
batch in the outer loss and at test time.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax

ApplyFn = Callable[[dict, jax.Array], jax.Array]  # (params, images [B, H, W, C]) -> logits [B, N]


def flatten_task(images: jax.Array) -> tuple[jax.Array, jax.Array]:
  """[N, K, H, W, C] -> (images [N*K, H, W, C] class-major, labels int32 [N*K] = 0,..,0, 1,.., N-1)."""
  n, k = images.shape[:2]
  return images.reshape(n * k, *images.shape[2:]), jnp.repeat(jnp.arange(n, dtype=jnp.int32), k)


def cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
  """Mean softmax cross-entropy of logits [B, N] against int labels [B]."""
  return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


def sgd_step(params, grads, lr: float):
  """One inner step: p - lr * g, leaf by leaf."""
  return jax.tree.map(lambda p, g: p - lr * g, params, grads)


def adapt(
  apply_fn: ApplyFn,
  params,
  images: jax.Array,
  labels: jax.Array,
  *,
  steps: int,
  lr: float,
  first_order: bool = False,
  unroll: bool = True,
):
  """params after `steps` inner SGD steps on CE(apply_fn(params, images), labels).

  Args:
    images: [B, H, W, C] support images; labels: int32 [B].
    first_order: treat each inner gradient as a constant (first-order MAML).
    unroll: a Python loop (one traced step per inner step: what meta-training differentiates, and the
      faster form on XLA:CPU); False runs lax.fori_loop (one traced step, for long evaluation loops).
  """
  grad_fn = jax.grad(lambda p: cross_entropy(apply_fn(p, images), labels))

  def step(p):
    g = grad_fn(p)
    if first_order:
      g = jax.lax.stop_gradient(g)
    return sgd_step(p, g, lr)

  if unroll:
    for _ in range(steps):
      params = step(params)
    return params
  return jax.lax.fori_loop(0, steps, lambda _, p: step(p), params)


def task_loss(
  apply_fn: ApplyFn,
  params,
  support: jax.Array,
  query: jax.Array,
  *,
  steps: int,
  lr: float,
  first_order: bool = False,
) -> tuple[jax.Array, jax.Array]:
  """(query CE after adaptation on the support, query accuracy) of one task.

  support [N, K, H, W, C], query [N, Q, H, W, C]; the labels are the class rows.
  """
  xs, ys = flatten_task(support)
  xq, yq = flatten_task(query)
  adapted = adapt(apply_fn, params, xs, ys, steps=steps, lr=lr, first_order=first_order)
  logits = apply_fn(adapted, xq)
  return cross_entropy(logits, yq), jnp.mean(jnp.argmax(logits, -1) == yq)


def predict(
  apply_fn: ApplyFn, params, support: jax.Array, query: jax.Array, *, steps: int, lr: float, unroll: bool = False
) -> jax.Array:
  """Predicted labels int32 [N, Q] of the queries after `steps` inner steps on the support (evaluation)."""
  xs, ys = flatten_task(support)
  adapted = adapt(apply_fn, params, xs, ys, steps=steps, lr=lr, unroll=unroll)
  n, q = query.shape[:2]
  return jnp.argmax(apply_fn(adapted, query.reshape(n * q, *query.shape[2:])), -1).reshape(n, q)
