"""LASIUM's task codes in a generator's latent space (Khodadadeh et al. 2021, Sec. 3.1, Algorithm 1).

A task of N classes is N "anchor" codes at least epsilon apart (line 3 of Algorithm 1) and, per class,
K_tr + K_val - 1 in-class codes made from its anchor by a strategy S (lines 4-6):
  N  (noise):            z' = z + sigma * e,              e ~ N(0, I)
  RO (random out-class): z' = z + alpha * (v - z),        v ~ the prior, fresh per code
  OC (other classes):    z' = z + alpha * (z_p - z),      z_p another anchor of the same task
The anchor comes first in each class row: codes [N, 1 + count, D].

Epsilon: the distance test is on SQUARED Euclidean distances, as the official code (commit 87c4d5a) and
the paper's Table 9 resample counts imply (see ../shared/reference/lasium.md, Sec. 2). Redrawing runs in
a bounded lax.while_loop: at most `max_draws` draws; the number of rejected draws is returned (the
methods log it) and an epsilon no draw can meet ends the loop with ok = False instead of spinning
forever.

OC for any N: the s-th in-class code of class c (s = 1..count) moves toward anchor (c + s) mod N. When
s is a multiple of N that partner is c itself; that code is z_c + oc_noise * e instead (the official
code's rule: every 5th sample is anchor + N(0, I)). The official code writes the 5 rows out by hand, so
it only works for N = 5 (an official limitation, generalised here).
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

STRATEGIES = ("n", "ro", "oc")


def min_pairwise_sq_distance(codes: jax.Array) -> jax.Array:
  """The smallest squared Euclidean distance between two different rows of codes [N, D] (inf if N = 1)."""
  d2 = jnp.sum(jnp.square(codes[:, None, :] - codes[None, :, :]), axis=-1)
  return jnp.min(jnp.where(jnp.eye(codes.shape[0], dtype=bool), jnp.inf, d2))


def draw_anchors(key: jax.Array, draw_fn: Callable, epsilon: float, max_draws: int):
  """Anchors more than `epsilon` apart (squared distance) by rejection, in a bounded while_loop.

  Args:
    key: PRNG key; draw i uses fold_in(key, i).
    draw_fn: key -> (codes [N, D], payload): one candidate set (prior samples, or posteriors of real
      images with the images as payload).
    epsilon: the squared-distance threshold (0: accept the first draw).
    max_draws: the bound on the number of draws.
  Returns:
    (codes [N, D], payload, rejects int32: the rejected draws, ok bool: False when max_draws draws all
    failed; then the last draw is returned).
  """
  if max_draws < 1:
    raise ValueError(f"lasium.max_draws must be >= 1, got {max_draws}")
  codes, payload = draw_fn(jax.random.fold_in(key, 0))
  init = (jnp.int32(1), codes, payload, min_pairwise_sq_distance(codes) > epsilon)

  def cond(carry):
    draws, _, _, ok = carry
    return (~ok) & (draws < max_draws)

  def body(carry):
    draws = carry[0]
    codes, payload = draw_fn(jax.random.fold_in(key, draws))
    return draws + 1, codes, payload, min_pairwise_sq_distance(codes) > epsilon

  draws, codes, payload, ok = jax.lax.while_loop(cond, body, init)
  return codes, payload, draws - ok.astype(jnp.int32), ok


def oc_partners(n: int, count: int) -> jax.Array:
  """int32 [n, count]: OC's partner anchor of class c's s-th in-class code, (c + s) mod n, or -1 where
  that is c itself (s a multiple of n: a noise code)."""
  c = jnp.arange(n)[:, None]
  s = jnp.arange(1, count + 1)[None, :]
  return jnp.where(s % n == 0, -1, (c + s) % n).astype(jnp.int32)


def in_class_codes(
  key: jax.Array,
  anchors: jax.Array,
  count: int,
  strategy: str,
  *,
  sigma: float = 0.5,
  alpha: float = 0.2,
  oc_noise: float = 1.0,
  prior: Callable | None = None,
) -> jax.Array:
  """[N, count, D] in-class codes for anchors [N, D] by strategy "n", "ro" or "oc".

  sigma: N's noise standard deviation (the paper's Table 7 "sigma^2 = 0.5" is the code's std parameter).
  alpha: RO/OC interpolation fraction toward the partner. oc_noise: std of OC's self-partner codes.
  prior: (key, shape) -> samples of the latent prior, for RO's out-of-class codes (default N(0, I)).
  """
  n, d = anchors.shape
  z = jnp.broadcast_to(anchors[:, None, :], (n, count, d))
  if strategy == "n":
    return z + sigma * jax.random.normal(key, z.shape, anchors.dtype)
  if strategy == "ro":
    v = (prior or jax.random.normal)(key, z.shape)
    return z + alpha * (v - z)
  if strategy == "oc":
    if n < 2:
      raise ValueError("lasium strategy 'oc' needs at least 2 classes per task")
    partners = oc_partners(n, count)
    toward = z + alpha * (anchors[jnp.maximum(partners, 0)] - z)
    noisy = z + oc_noise * jax.random.normal(key, z.shape, anchors.dtype)
    return jnp.where((partners < 0)[..., None], noisy, toward)
  raise ValueError(f"lasium.strategy must be one of {', '.join(STRATEGIES)}, got {strategy!r}")


def task_codes(key: jax.Array, anchors: jax.Array, count: int, strategy: str, **kwargs) -> jax.Array:
  """[N, 1 + count, D]: each class row is its anchor, then `count` in-class codes (in_class_codes)."""
  return jnp.concatenate([anchors[:, None, :], in_class_codes(key, anchors, count, strategy, **kwargs)], axis=1)
