"""Kernel Inception Distance (Binkowski et al. 2018): unbiased MMD^2 with the cubic polynomial kernel

  k(x, y) = (x . y / d + 1)^3,

averaged over `num_subsets` random subsets of m = min(N_r, N_g, max_subset_size) features each, exactly
as clean-fid's kernel_distance (its defaults: 100 subsets of at most 1000).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from fsgen.metrics import inception


@jax.jit
def _mmd_subset(x: jax.Array, y: jax.Array) -> jax.Array:
  """Unbiased MMD^2 between x [m, d] and y [m, d] (one subset), float32 on device."""
  m, d = x.shape
  kxx = (x @ x.T / d + 1.0) ** 3
  kyy = (y @ y.T / d + 1.0) ** 3
  kxy = (x @ y.T / d + 1.0) ** 3
  a = (jnp.sum(kxx) - jnp.trace(kxx)) + (jnp.sum(kyy) - jnp.trace(kyy))
  return a / (m * (m - 1)) - 2.0 * jnp.sum(kxy) / (m * m)


def kernel_inception_distance(
  feats1: np.ndarray, feats2: np.ndarray, num_subsets: int = 100, max_subset_size: int = 1000, seed: int = 0
) -> float:
  """KID between feature sets [N1, D] and [N2, D]; subsets drawn without replacement (numpy, `seed`)."""
  m = min(len(feats1), len(feats2), max_subset_size)
  if m < 2:
    raise ValueError(f"kernel_inception_distance: need at least 2 features per set, got {m}")
  rng = np.random.default_rng(seed)
  f1, f2 = jnp.asarray(feats1, jnp.float32), jnp.asarray(feats2, jnp.float32)
  total = 0.0
  for _ in range(num_subsets):
    x = f2[rng.choice(len(feats2), m, replace=False)]
    y = f1[rng.choice(len(feats1), m, replace=False)]
    total += float(_mmd_subset(x, y))
  return total / num_subsets


class Evaluator(inception.InceptionEvaluator):
  """KID of `n` generated images against the training set (or `reference`). Returns {'kid': float}."""

  def __init__(
    self,
    dataset,
    n: int = 5000,
    size: int = inception.FID_SIZE,
    batch: int = 50,
    reference=None,
    num_subsets: int = 100,
    max_subset_size: int = 1000,
  ):
    super().__init__(dataset, n, size, batch, reference)
    self.num_subsets, self.max_subset_size = num_subsets, max_subset_size

  def run(self, sample_fn, key) -> dict[str, float]:
    gen = self.generated(sample_fn, key)
    return {"kid": kernel_inception_distance(self.reference(), gen, self.num_subsets, self.max_subset_size)}
