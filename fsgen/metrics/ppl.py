"""Perceptual path length uniformity, as MixDL reports it (Kong et al. 2022, Sec. 4.4, Table 7).

A path is a latent interpolation z(t) between two random latents, cut into `num_sub` = 10 equal
sub-intervals t_k = k / 10. With eps = 1 / num_sub and d = LPIPS-VGG:
  ppl_mean = mean over paths and k of d(G(z(t_k)), G(z(t_k+1))) / eps^2,
  ppl_std  = mean over paths of the std over k of the same scaled distances (low = uniform transitions),
  ppl_end  = mean over paths of d(G(z(0)), G(z(1))) / eps^2 (the full path, same scale).
PPL (Karras et al. 2019) is quadratic in the step, hence the 1/eps^2; we scale the endpoint distance by
the same factor so the three numbers share units, which matches the magnitudes of MixDL's Table 7
(subinterval means 10-23 and endpoints 54-71 for LPIPS values of about 0.1 and 0.6).

The generator side is a callable interp_fn(key, n, ts) -> images [n, len(ts), H, W, C] in [-1, 1]
(the method decides how to interpolate: slerp in Z, lerp in W, ...).
"""

from __future__ import annotations

import numpy as np

from fsgen.metrics.lpips import LPIPS


def ppl_from_paths(paths: np.ndarray, lp: LPIPS) -> dict[str, float]:
  """paths [P, num_sub + 1, H, W, C] -> {'ppl_mean', 'ppl_std', 'ppl_end'}."""
  p, t = paths.shape[:2]
  scale = float((t - 1) ** 2)
  a = paths[:, :-1].reshape(-1, *paths.shape[2:])
  b = paths[:, 1:].reshape(-1, *paths.shape[2:])
  sub = lp.distance(a, b).reshape(p, t - 1) * scale
  end = lp.distance(paths[:, 0], paths[:, -1]) * scale
  return {"ppl_mean": float(sub.mean()), "ppl_std": float(sub.std(axis=1).mean()), "ppl_end": float(end.mean())}


class Evaluator:
  """PPL uniformity over `n` paths of `num_sub` sub-intervals.

  `run(sample_fn, key)` needs `sample_fn.interpolate(key, n, ts)` (fsgen.metrics.Samplers attaches it
  when the method provides `interpolate(params, key, n, ts)`).
  """

  needs = ("interpolate",)

  def __init__(
    self, dataset, n: int = 100, num_sub: int = 10, net: str = "vgg", size: int | None = None, batch: int = 16
  ):
    del dataset
    self.n, self.num_sub = int(n), int(num_sub)
    self.lpips = LPIPS(net, size, batch)

  def run(self, sample_fn, key) -> dict[str, float]:
    interp = getattr(sample_fn, "interpolate", None)
    if interp is None:
      raise ValueError(
        "ppl needs latent interpolations: the method must provide "
        "interpolate(params, key, n, ts) -> [n, len(ts), H, W, C]"
      )
    ts = np.linspace(0.0, 1.0, self.num_sub + 1)
    return ppl_from_paths(np.asarray(interp(key, self.n, ts)), self.lpips)
