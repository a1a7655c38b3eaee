"""Intra-cluster LPIPS (Ojha et al. 2021, CDC; reported by MixDL for comparison).

Each generated image is assigned to its nearest training image by LPIPS; inside each cluster the mean
LPIPS over all pairs of members is taken (at most `max_per_cluster` members, the first ones drawn), and
the result is the mean over clusters with at least two members. A generator that copies its training
images scores near 0; a diverse one approaches the set's own pairwise LPIPS.
"""

from __future__ import annotations

import numpy as np

from fsgen.metrics.lpips import LPIPS, mean_pairwise


def intra_cluster_lpips(
  generated: np.ndarray, train: np.ndarray, lp: LPIPS, max_per_cluster: int = 50
) -> dict[str, float]:
  """generated [M, H, W, C], train [N, H, W, C] (uint8 or [-1, 1]) -> intra_lpips, clusters, largest."""
  assign = np.argmin(lp.pairwise(generated, train), axis=1)
  values, sizes = [], []
  for c in range(len(train)):
    members = np.flatnonzero(assign == c)
    sizes.append(len(members))
    if len(members) >= 2:
      values.append(mean_pairwise(lp.pairwise(generated[members[:max_per_cluster]]))[0])
  return {
    "intra_lpips": float(np.mean(values)) if values else 0.0,
    "intra_lpips_clusters": float(len(values)),
    "intra_lpips_largest": float(max(sizes)),
  }


class Evaluator:
  """Intra-cluster LPIPS of `n` generated images around the training images. CDC uses n = 1000."""

  def __init__(
    self, dataset, n: int = 1000, net: str = "vgg", size: int | None = None, batch: int = 16, max_per_cluster: int = 50
  ):
    self.train = np.asarray(dataset.images)
    self.n, self.max_per_cluster = int(n), int(max_per_cluster)
    self.lpips = LPIPS(net, size, batch)

  def run(self, sample_fn, key) -> dict[str, float]:
    return intra_cluster_lpips(np.asarray(sample_fn(key, self.n)), self.train, self.lpips, self.max_per_cluster)
