"""Similarity-KL distance terms: MixDL's Dirichlet-mixup distance, of which CDC's anchor loss is a case.

MixDL (Kong et al. 2022, Sec. 3.2-3.3): for mixing coefficients C [N, M] (rows on the simplex), mixed
samples x_i = G(sum_j C_ij w_j) and edge samples x_j = G(w_j),
  q_i = softmax_j(cos(f(x_i), f(x_j)))           (Eq. "q^l"; f = a generator layer or projected D features)
  p_i = softmax_j(C_ij)                           (the softmax OF the coefficients, as the official code)
  L = KL(p || q) with reduction "mean" over all N*M entries (PyTorch KLDivLoss(log q, p) default),
i.e. L = 1/(N M) sum_ij p_ij (log p_ij - log q_ij). The paper writes KL(q || p); the official code (whose
runs produced the tables) computes KL(p || q). Both are offered through `direction`.

With a one-hot row C_i = e_k the mixed sample is the edge sample k itself: CDC's anchor form
(q_i = softmax_j sim(G(z_k), G(z_j)), here against the fixed target softmax(e_k)).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def cosine_similarity_matrix(a: jax.Array, b: jax.Array, eps: float = 1e-8) -> jax.Array:
  """a [N, ...], b [M, ...] -> [N, M] cosine similarities of the flattened rows (one matmul)."""
  a = a.reshape(a.shape[0], -1)
  b = b.reshape(b.shape[0], -1)
  a = a * jax.lax.rsqrt(jnp.sum(jnp.square(a), axis=1, keepdims=True) + eps)
  b = b * jax.lax.rsqrt(jnp.sum(jnp.square(b), axis=1, keepdims=True) + eps)
  return a @ b.T


def similarity_kl(*, sims: jax.Array, coeffs: jax.Array, direction: str = "code", reduction: str = "mean") -> jax.Array:
  """The mixup distance from similarities sims [N, M] and coefficients coeffs [N, M] -> scalar.

  direction: "code" = KL(softmax(C) || softmax(S)) (official code), "paper" = KL(softmax(S) || softmax(C)).
  reduction: "mean" = sum / (N M) (official, KLDivLoss default), "batchmean" = sum / N, "sum".
  """
  log_q = jax.nn.log_softmax(sims, axis=-1)
  log_p = jax.nn.log_softmax(coeffs, axis=-1)
  if direction == "code":
    kl = jnp.exp(log_p) * (log_p - log_q)
  elif direction == "paper":
    kl = jnp.exp(log_q) * (log_q - log_p)
  else:
    raise ValueError(f"unknown KL direction {direction!r} (known: code, paper)")
  if reduction == "mean":
    return jnp.mean(kl)
  if reduction == "batchmean":
    return jnp.sum(kl) / kl.shape[0]
  if reduction == "sum":
    return jnp.sum(kl)
  raise ValueError(f"unknown reduction {reduction!r} (known: mean, batchmean, sum)")


def mixup_distance(
  *, mix_feats: jax.Array, edge_feats: jax.Array, coeffs: jax.Array, direction: str = "code", reduction: str = "mean"
) -> jax.Array:
  """L_dist (MixDL Sec. 3.2) on one feature level: mix_feats [N, ...], edge_feats [M, ...], coeffs [N, M]."""
  return similarity_kl(
    sims=cosine_similarity_matrix(mix_feats, edge_feats), coeffs=coeffs, direction=direction, reduction=reduction
  )


def layerwise_mixup_distance(
  *,
  mix_feats: list,
  edge_feats: list,
  coeffs: jax.Array,
  layers: jax.Array,
  direction: str = "code",
  reduction: str = "mean",
) -> jax.Array:
  """L^G_dist with one random layer per mixed sample (the official code's E_l).

  mix_feats, edge_feats: lists over layers of [N, H_l, W_l, C_l] and [M, H_l, W_l, C_l];
  coeffs [N, M]; layers int [N], row i uses layer layers[i]. The similarity matrices of all listed layers
  are computed (one matmul each) and row i is taken from layer layers[i].
  """
  sims = jnp.stack([cosine_similarity_matrix(a, b) for a, b in zip(mix_feats, edge_feats)])  # [L, N, M]
  rows = sims[layers, jnp.arange(coeffs.shape[0])]
  return similarity_kl(sims=rows, coeffs=coeffs, direction=direction, reduction=reduction)


def mixing_coefficients(
  key: jax.Array, n: int, m: int | None = None, *, kind: str = "dirichlet", alpha: float = 1.0
) -> jax.Array:
  """Coefficients C [n, m] with rows on the simplex.

  dirichlet: rows ~ Dir(alpha 1_m) (the paper: alpha = 1); gaussian: softmax of N(0, I) rows; uniform:
  U(0, 1) rows divided by their sum (the official --gaussian / --uniform ablations, paper Table 6).
  """
  m = n if m is None else m
  if kind == "dirichlet":
    return jax.random.dirichlet(key, jnp.full((m,), alpha), (n,))
  if kind == "gaussian":
    return jax.nn.softmax(jax.random.normal(key, (n, m)), axis=-1)
  if kind == "uniform":
    u = jax.random.uniform(key, (n, m))
    return u / jnp.sum(u, axis=-1, keepdims=True)
  raise ValueError(f"unknown mixing coefficient distribution {kind!r} (known: dirichlet, gaussian, uniform)")
