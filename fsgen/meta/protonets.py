"""Prototypical networks (Snell et al. 2017): class prototypes = mean support embeddings; queries are
classified by a softmax over the negative squared Euclidean distances to the prototypes.

  c_n = mean_k f(x_{n,k}),   p(y = n | x) = softmax_n(-d(f(x), c_n)),   d = sum_j (a_j - b_j)^2  ("sum")
                                                                         or mean_j (...)      ("mean")

"mean" is the official code's distance (reduce_mean over the 256 feature dimensions: squared Euclidean
/ D, a softmax temperature of D); "sum" is the textbook squared Euclidean distance. The paper names
neither.

Official bug avoided: the official `proto_net` takes log_softmax(-dists) with dists laid out
[prototypes, queries], i.e. normalised over the QUERY axis, and transposes afterwards; its training loss
is therefore not the ProtoNets cross-entropy. Here the softmax runs over the prototypes (the last axis
of the [queries, prototypes] logits).

Embeddings use batch statistics: the support batch and the query batch each through the net on their
own, as the official code (support with training=True, queries with training=True in meta-training and
at test time).
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from fsgen.meta.maml import cross_entropy, flatten_task

EmbedFn = Callable[[dict, jax.Array], jax.Array]  # (params, images [B, H, W, C]) -> features [B, D]


def prototypes(support_features: jax.Array) -> jax.Array:
  """[N, K, D] support features -> [N, D] prototypes (the mean over the K shots)."""
  return jnp.mean(support_features, axis=1)


def squared_distances(queries: jax.Array, protos: jax.Array, reduction: str = "mean") -> jax.Array:
  """[M, D] queries, [N, D] prototypes -> [M, N] squared Euclidean distances (summed or averaged over D)."""
  if reduction not in ("sum", "mean"):
    raise ValueError(f"protonets distance must be 'sum' or 'mean', got {reduction!r}")
  d2 = jnp.sum(jnp.square(queries[:, None, :] - protos[None, :, :]), axis=-1)
  return d2 / queries.shape[-1] if reduction == "mean" else d2


def logits(queries: jax.Array, protos: jax.Array, reduction: str = "mean") -> jax.Array:
  """[M, N] logits -d(query, prototype); the class softmax runs over the last axis (prototypes)."""
  return -squared_distances(queries, protos, reduction)


def _task_logits(embed_fn: EmbedFn, params, support: jax.Array, query: jax.Array, reduction: str):
  n, k = support.shape[:2]
  xs, _ = flatten_task(support)
  xq, yq = flatten_task(query)
  protos = prototypes(embed_fn(params, xs).reshape(n, k, -1))
  return logits(embed_fn(params, xq), protos, reduction), yq


def task_loss(
  embed_fn: EmbedFn, params, support: jax.Array, query: jax.Array, *, reduction: str = "mean"
) -> tuple[jax.Array, jax.Array]:
  """(query CE over prototypes, query accuracy) of one task: support [N, K, ...], query [N, Q, ...]."""
  out, yq = _task_logits(embed_fn, params, support, query, reduction)
  return cross_entropy(out, yq), jnp.mean(jnp.argmax(out, -1) == yq)


def predict(embed_fn: EmbedFn, params, support: jax.Array, query: jax.Array, *, reduction: str = "mean"):
  """Predicted labels int32 [N, Q] of the queries (nearest prototype)."""
  out, _ = _task_logits(embed_fn, params, support, query, reduction)
  return jnp.argmax(out, -1).reshape(query.shape[:2])
