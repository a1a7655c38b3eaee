"""Hungarian assignment via pure_callback: minimal cost against brute force, under jit/vmap, on 4 devices."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from fsgen.losses import assignment
from fsgen.parallel import make_mesh, replicated


def _brute_force(cost):
  n = cost.shape[0]
  return min(sum(cost[i, p[i]] for i in range(n)) for p in itertools.permutations(range(n)))


@pytest.mark.parametrize("seed", range(4))
def test_permutation_of_minimal_cost_against_brute_force(seed):
  rng = np.random.default_rng(seed)
  pred, targets = rng.normal(size=(6, 3)), rng.normal(size=(6, 3))
  perm = np.asarray(jax.jit(assignment.assign_targets)(jnp.asarray(pred), jnp.asarray(targets)))
  assert sorted(perm.tolist()) == list(range(6))
  cost = ((pred[:, None] - targets[None]) ** 2).sum(-1)
  np.testing.assert_allclose(cost[np.arange(6), perm].sum(), _brute_force(cost), rtol=1e-5)
  # Never worse than keeping the current assignment (the identity).
  assert cost[np.arange(6), perm].sum() <= np.trace(cost) + 1e-9


def test_squared_and_plain_costs_can_disagree():
  # Eq. 2 (squared) vs MMDC (plain distances): a case where the optimal permutations differ.
  pred = jnp.array([[2.0, 4.0], [4.0, 1.0], [2.0, 1.0]])
  targets = jnp.array([[2.0, 1.0], [2.0, 4.0], [1.0, 2.0]])
  assert np.asarray(assignment.assign_targets(pred, targets)).tolist() == [1, 0, 2]
  assert np.asarray(assignment.assign_targets(pred, targets, squared=False)).tolist() == [1, 2, 0]


def test_vmap_solves_each_matrix():
  rng = np.random.default_rng(0)
  costs = rng.uniform(size=(3, 5, 5)).astype(np.float32)
  out = np.asarray(jax.jit(jax.vmap(assignment.hungarian))(jnp.asarray(costs)))
  for c, p in zip(costs, out):
    np.testing.assert_allclose(c[np.arange(5), p].sum(), _brute_force(c), rtol=1e-5)


def test_sharded_batch_on_four_devices_matches_one_device():
  assert jax.device_count() >= 4
  rng = np.random.default_rng(1)
  pred, targets = rng.normal(size=(8, 4)).astype(np.float32), rng.normal(size=(8, 4)).astype(np.float32)
  ref = np.asarray(jax.jit(assignment.assign_targets)(pred, targets))
  mesh = make_mesh(4)
  with jax.set_mesh(mesh):
    batch = jax.sharding.NamedSharding(mesh, jax.P("data"))
    p, t = jax.device_put(pred, batch), jax.device_put(targets, batch)
    assert len(p.addressable_shards) == 4 and p.addressable_shards[0].data.shape[0] == 2
    # Permute a sharded target table inside the jitted step, as the Step-I phase does.
    fn = jax.jit(lambda p, t: t[assignment.assign_targets(p, t)], out_shardings=replicated(mesh))
    permuted = np.asarray(fn(p, t))
  np.testing.assert_array_equal(permuted, targets[ref])


def test_matched_accuracy_is_permutation_invariant():
  labels = jnp.array([0, 0, 1, 1, 2, 2, 2, 0])
  renamed = jnp.array([2, 2, 0, 0, 1, 1, 1, 2])  # a relabelling: perfect clustering
  assert float(assignment.matched_accuracy(renamed, labels, 3, 3)) == 1.0
  wrong = jnp.array([2, 2, 0, 0, 1, 1, 0, 1])  # two mistakes
  np.testing.assert_allclose(
    float(jax.jit(assignment.matched_accuracy, static_argnums=(2, 3))(wrong, labels, 3, 3)), 6 / 8
  )
  # More clusters than classes: only one cluster per class can be matched.
  np.testing.assert_allclose(float(assignment.matched_accuracy(jnp.arange(8) % 4, labels, 4, 3)), 3 / 8)
