"""Per-batch optimal assignment (COLA Step I, Eq. 2) with scipy's Hungarian solver inside jitted code.

The cost matrix is computed on device; the permutation comes from `scipy.optimize.linear_sum_assignment`
through `jax.pure_callback`. With a batch sharded over a `data` mesh axis the [B, B] cost is first
constrained to be replicated, so the host solver always sees the whole batch (one callback per step,
about 0.5 ms at 128x128).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import PartitionSpec as P
from scipy.optimize import linear_sum_assignment


def _replicate(x: jax.Array) -> jax.Array:
  mesh = jax.sharding.get_abstract_mesh()
  if mesh.empty:
    return x
  return jax.lax.with_sharding_constraint(x, P())


def _solve_host(cost: np.ndarray) -> np.ndarray:
  """cost float [..., R, C] (R <= C) -> int32 [..., R] column of each row; loops over leading dims."""
  cost = np.asarray(cost, np.float64)
  flat = cost.reshape((-1,) + cost.shape[-2:])
  out = np.empty(flat.shape[:2], np.int32)
  for i, c in enumerate(flat):
    rows, cols = linear_sum_assignment(c)
    out[i, rows] = cols
  return out.reshape(cost.shape[:-1])


def hungarian(cost: jax.Array) -> jax.Array:
  """Minimal-cost assignment of rows to columns: int32 [..., R] with row r -> column out[r].

  Args:
    cost: float [..., R, C] with R <= C (square in Step I). Works under jit and vmap (leading axes are
      solved one by one on the host) and on sharded inputs.
  """
  if cost.shape[-2] > cost.shape[-1]:
    raise ValueError(f"hungarian needs rows <= columns, got cost shape {cost.shape}")
  cost = _replicate(jax.lax.stop_gradient(cost))
  out = jax.ShapeDtypeStruct(cost.shape[:-1], jnp.int32)
  return jax.pure_callback(_solve_host, out, cost, vmap_method="expand_dims")


def squared_distances(pred: jax.Array, targets: jax.Array) -> jax.Array:
  """Eq. 2 cost: float [B, M] with entry (j, m) = ||pred_j - targets_m||^2 (pred [B, K], targets [M, K])."""
  d = jnp.sum(pred**2, -1)[:, None] + jnp.sum(targets**2, -1)[None, :] - 2.0 * pred @ targets.T
  return jnp.maximum(d, 0.0)


def cluster_labels(targets: jax.Array, means: jax.Array) -> jax.Array:
  """int32 [N]: the index of the GMM mean nearest to each target, argmin_c ||t_i - mu_c|| (COLA Step I's
  cluster of image i; targets [N, K], means [C, K])."""
  return jnp.argmin(squared_distances(targets, means), axis=-1).astype(jnp.int32)


def assign_targets(pred: jax.Array, targets: jax.Array, *, squared: bool = True) -> jax.Array:
  """Permutes a batch's targets to minimise sum_j ||pred_j - t_pi(j)||^2 (COLA Eq. 2).

  Args:
    pred: float [B, K] embeddings E1(x_j) of the batch (un-augmented view).
    targets: float [B, K] the targets currently held by the batch's images.
    squared: squared Euclidean cost as in COLA Eq. 2 (True) or plain distances as in MMDC's code.
  Returns:
    int32 [B] permutation pi: image j now holds targets[pi[j]].
  """
  cost = squared_distances(pred, targets)
  return hungarian(cost if squared else jnp.sqrt(cost + 1e-12))


def matched_accuracy(pred: jax.Array, labels: jax.Array, num_pred: int, num_true: int) -> jax.Array:
  """Clustering accuracy: the fraction of agreement after the best one-to-one matching of clusters to
  classes (Hungarian on the [num_pred, num_true] confusion matrix). Unmatched clusters count as wrong.

  Args:
    pred: int [N] cluster ids in [0, num_pred); labels: int [N] classes in [0, num_true).
  Returns:
    float32 scalar in [0, 1].
  """
  conf = jnp.zeros((num_pred, num_true), jnp.float32).at[pred, labels].add(1.0)
  if num_pred <= num_true:
    cols = hungarian(-conf)
    hits = conf[jnp.arange(num_pred), cols].sum()
  else:
    rows = hungarian(-conf.T)
    hits = conf.T[jnp.arange(num_true), rows].sum()
  return hits / pred.shape[0]
