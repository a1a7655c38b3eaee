"""The exact nearest-neighbour search (fsgen.neighbours): chunked top-1 equals brute-force NumPy,
including a key count that is not a multiple of the chunk and exact ties; the one-matmul `nearest` too."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from fsgen import neighbours as nn
from fsgen.metrics import nn as memo


def _brute(q, k):
  d2 = ((q[:, None, :].astype(np.float64) - k[None].astype(np.float64)) ** 2).sum(-1)
  return d2.argmin(1), d2.min(1)


@pytest.mark.parametrize("num_keys,chunk", [(203, 16), (64, 64), (5, 8)])
def test_chunked_search_equals_numpy(num_keys, chunk):
  rng = np.random.default_rng(num_keys)
  q = rng.normal(size=(7, 33)).astype(np.float32)
  k = rng.normal(size=(num_keys, 33)).astype(np.float32)
  k[3 % num_keys] = q[2]  # an exact match (distance 0)
  padded = jnp.asarray(np.concatenate([k, np.full((chunk, 33), 1e3, np.float32)]))  # junk past the end

  @jax.jit
  def search(q):
    return nn.nearest_chunked(q, lambda s: jax.lax.dynamic_slice_in_dim(padded, s, chunk), num_keys, chunk)

  idx, d2 = search(jnp.asarray(q))
  ref_idx, ref_d2 = _brute(q, k)
  np.testing.assert_array_equal(np.asarray(idx), ref_idx)
  np.testing.assert_allclose(np.asarray(d2), ref_d2, rtol=1e-4, atol=1e-4)
  assert int(idx[2]) == 3 % num_keys and float(d2[2]) == pytest.approx(0.0, abs=1e-4)


def test_ties_keep_the_lowest_index_across_chunks():
  k = np.zeros((10, 4), np.float32)  # every key equidistant from the query
  q = np.ones((1, 4), np.float32)
  idx, _ = nn.nearest_chunked(jnp.asarray(q), lambda s: jax.lax.dynamic_slice_in_dim(jnp.asarray(k), s, 5), 10, 5)
  assert int(idx[0]) == 0


def test_nearest_and_memorisation_still_match_numpy():
  rng = np.random.default_rng(0)
  q, k = rng.normal(size=(50, 12)).astype(np.float32), rng.normal(size=(9, 12)).astype(np.float32)
  idx, d2 = nn.nearest(jnp.asarray(q), jnp.asarray(k))
  ref_idx, ref_d2 = _brute(q, k)
  np.testing.assert_array_equal(np.asarray(idx), ref_idx)
  np.testing.assert_allclose(np.asarray(d2), ref_d2, rtol=1e-4, atol=1e-5)
  stats = memo.memorisation(q.reshape(50, 2, 2, 3), k.reshape(9, 2, 2, 3))
  assert stats["distinct_nn"] == len(np.unique(ref_idx))
  assert stats["nn_dist_min"] == pytest.approx(np.sqrt(ref_d2.min() / 12), rel=1e-4)


def test_nearest_with_precomputed_norms_skips_invalid_rows():
  rng = np.random.default_rng(1)
  q, k = rng.normal(size=(6, 10)).astype(np.float32), rng.normal(size=(20, 10)).astype(np.float32)
  k[5] = q[0]  # the best key of query 0 ...
  valid = np.ones(20, bool)
  valid[5] = False  # ... is padding, so it must not be chosen
  idx, d2 = nn.nearest(jnp.asarray(q), jnp.asarray(k), nn.sq_norms(jnp.asarray(k)), jnp.asarray(valid))
  ref_idx, ref_d2 = _brute(q, np.where(valid[:, None], k, 1e6))
  np.testing.assert_array_equal(np.asarray(idx), ref_idx)
  np.testing.assert_allclose(np.asarray(d2), ref_d2, rtol=1e-4, atol=1e-5)
  assert int(idx[0]) != 5
