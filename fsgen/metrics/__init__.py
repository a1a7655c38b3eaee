"""Metrics and the evaluator plug-ins the training loop runs every N steps.

`config.evals = {name: {type: MODULE, every: N, ...kwargs}}`: each entry builds
`fsgen.metrics.<type>.Evaluator(dataset, **kwargs)`, whose `run(sample_fn, key)` returns a dict of floats
logged as `<name>/<metric>`; `sample_fn(key, n)` returns n generated images [n, H, W, C] in [-1, 1].

Evaluator types (modules): fid, kid, pr (Inception pool3, clean-fid resize to 299; reference features
cached per dataset/split/resolution under $FSGEN_ASSETS/stats), lpips (pairwise LPIPS diversity),
intra_lpips (CDC intra-cluster LPIPS), nn (memorisation in pixel/LPIPS/Inception space), ppl (MixDL's
PPL uniformity; needs sample_fn.interpolate), cas (classification accuracy score; needs a labelled
sampler). Example: config.evals = {"fid": {"type": "fid", "every": 5000, "n": 5000, "kid": True}}.
Weights come from fsgen.assets; `python experiments/eval.py` scores a finished workdir.
"""

from __future__ import annotations

import importlib


def build_all(evals_cfg, dataset) -> dict:
  evaluators = {}
  for name, cfg in dict(evals_cfg).items():
    kwargs = dict(cfg)
    kind = kwargs.pop("type", None)
    every = kwargs.pop("every", None)
    if kind is None or every is None:
      raise ValueError(f"config.evals.{name} needs 'type' and 'every'")
    try:
      module = importlib.import_module(f"fsgen.metrics.{kind}")
    except ModuleNotFoundError as e:
      raise ValueError(f"config.evals.{name}: unknown evaluator type {kind!r}") from e
    ev = module.Evaluator(dataset, **kwargs)
    ev.every = int(every)
    evaluators[name] = ev
  return evaluators


def labelled_sampler(method, evaluators: dict):
  """jit(method.sample_labelled) if some evaluator is `labelled` (cas), else None; a clear error if the
  method has no labelled sampler (checked before training starts, not at the first evaluation)."""
  names = [name for name, ev in evaluators.items() if getattr(ev, "labelled", False)]
  if not names:
    return None
  if not hasattr(method, "sample_labelled"):
    raise ValueError(f"config.evals.{names[0]} needs labelled samples: method "
                     f"{method.config.method!r} has no sample_labelled (scola has)")
  import jax  # pylint: disable=import-outside-toplevel
  return jax.jit(method.sample_labelled, static_argnums=2)
