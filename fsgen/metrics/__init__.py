"""Metrics and the evaluator plug-ins the training loop runs every N steps.

`config.evals = {name: {type: MODULE, every: N, ...kwargs}}`: each entry builds
`fsgen.metrics.<type>.Evaluator(dataset, **kwargs)`, whose `run(sample_fn, key)` returns a dict of floats
logged as `<name>/<metric>`; `sample_fn(key, n)` returns n generated images [n, H, W, C] in [-1, 1].

Evaluator types (modules): fid, kid, pr (Inception pool3, clean-fid resize to 299; reference features
cached per dataset/split/resolution under $FSGEN_ASSETS/stats), lpips (pairwise LPIPS diversity),
intra_lpips (CDC intra-cluster LPIPS), nn (memorisation in pixel/LPIPS/Inception space), ppl (MixDL's
PPL uniformity; needs sample_fn.interpolate), cas (classification accuracy score; needs a labelled
sampler), episodes (few-shot accuracy of a meta-learner on fixed real episodes; needs
method.classify_episodes). Example: config.evals = {"fid": {"type": "fid", "every": 5000, "n": 5000, "kid": True}}.
Weights come from fsgen.assets; `python experiments/eval.py` scores a finished workdir.
"""

from __future__ import annotations

import importlib


def build_all(evals_cfg, dataset, info=None) -> dict:
  """{name: Evaluator} of config.evals, each with `.every` in steps (`every`, or `every_epochs` converted
  with the DataInfo `info`). An entry set to None or {} (e.g. --config.evals.fid=None) is disabled."""
  from fsgen import schedule  # pylint: disable=import-outside-toplevel

  evaluators = {}
  for name, cfg in dict(evals_cfg).items():
    if not cfg:
      continue
    kwargs = dict(cfg)
    kind = kwargs.pop("type", None)
    if kind is None or ("every" not in kwargs and "every_epochs" not in kwargs):
      raise ValueError(f"config.evals.{name} needs 'type' and 'every' (or 'every_epochs')")
    if "every_epochs" in kwargs and info is None:
      raise ValueError(f"config.evals.{name}.every_epochs needs the data facts; give 'every' in steps")
    every = (
      schedule.steps(kwargs, "every", info, where=f"config.evals.{name}") if info is not None else kwargs.get("every")
    )
    kwargs.pop("every", None)
    kwargs.pop("every_epochs", None)
    if not isinstance(every, int) or isinstance(every, bool) or every < 1:
      raise ValueError(f"config.evals.{name}.every must be a positive integer, got {every!r}")
    try:
      module = importlib.import_module(f"fsgen.metrics.{kind}")
    except ModuleNotFoundError as e:
      raise ValueError(f"config.evals.{name}: unknown evaluator type {kind!r}") from e
    ev = module.Evaluator(dataset, **kwargs)
    ev.every = int(every)
    evaluators[name] = ev
  return evaluators


_NEEDS = {
  "labelled": ("sample_labelled", "labelled samples"),
  "interpolate": ("interpolate", "latent paths"),
  "cluster": ("sample_cluster", "per-class samples"),
  "episodes": ("classify_episodes", "a few-shot learner"),
}


class Samplers:
  """The jitted samplers a method offers the evaluators, each jitted once (one program per shape).

  `for_evaluator(ev, params)` returns the `sample_fn(key, n)` that `ev.run` takes: images [n, H, W, C]
  in [-1, 1] from method.sample, or (images, labels [n]) from method.sample_labelled when the evaluator
  says `needs = ("labelled",)` (cas); `sample_fn.interpolate(key, n, ts)` -> [n, len(ts), H, W, C] is
  attached when the method has `interpolate` (ppl says `needs = ("interpolate",)`), and
  `sample_fn.cluster(key, n, c)` -> n images of class/cluster c when it has `sample_cluster` (the
  small-sample protocol says `needs = ("cluster",)`), and `sample_fn.classify(support, query)` -> labels
  when it has `classify_episodes` (episodes). With `chunk`, images
  are drawn `chunk` at a time (one compiled shape at any n, flat memory). A method lacking what an
  evaluator needs is refused here, before any training or sampling, naming the evaluator.
  """

  def __init__(self, method, evaluators: dict, chunk: int | None = None):
    import jax  # pylint: disable=import-outside-toplevel

    for name, ev in evaluators.items():
      for need in getattr(ev, "needs", ()):
        attr, what = _NEEDS[need]
        if not hasattr(method, attr):
          raise ValueError(f"evaluator {name!r} needs {what}: method {method.config.method!r} has no {attr}")
    self.chunk = chunk
    info = getattr(method, "info", None)
    self.image_shape = tuple(info.image_shape) if info is not None else None
    self._sample = jax.jit(method.sample, static_argnums=2)
    self._labelled = jax.jit(method.sample_labelled, static_argnums=2) if hasattr(method, "sample_labelled") else None
    self._interp = jax.jit(method.interpolate, static_argnums=(2, 3)) if hasattr(method, "interpolate") else None
    self._cluster = jax.jit(method.sample_cluster, static_argnums=(2, 3)) if hasattr(method, "sample_cluster") else None
    self._classify = jax.jit(method.classify_episodes) if hasattr(method, "classify_episodes") else None

  def _draw(self, fn, params, key, n):
    import chex  # pylint: disable=import-outside-toplevel
    import jax  # pylint: disable=import-outside-toplevel
    import numpy as np  # pylint: disable=import-outside-toplevel

    if not self.chunk:
      out = fn(params, key, n)
    else:
      parts = [jax.device_get(fn(params, jax.random.fold_in(key, i), self.chunk)) for i in range(-(-n // self.chunk))]
      out = jax.tree.map(lambda *xs: np.concatenate(xs)[:n], *parts)
    # The method boundary: a sampler returns images [n, H, W, C] of the training shape (with labels [n]).
    images = out[0] if isinstance(out, tuple) else out
    chex.assert_shape(images, (n, *self.image_shape) if self.image_shape else (n, None, None, None))
    if isinstance(out, tuple):
      chex.assert_shape(out[1], (n,))
    return out

  def for_evaluator(self, ev, params, cache: dict | None = None):
    """ev's sample_fn(key, n); `cache` (a dict shared by the evaluators of one evaluation) lets the
    Inception-based evaluators share one pass of generated features."""
    fn = self._labelled if "labelled" in getattr(ev, "needs", ()) else self._sample

    def sample_fn(key, n):
      return self._draw(fn, params, key, n)

    if cache is not None:
      sample_fn.cache = cache.setdefault("labelled" if fn is self._labelled else "images", {})
    if self._cluster is not None:

      def cluster(key, n, c):
        import chex  # pylint: disable=import-outside-toplevel

        images = self._cluster(params, key, int(n), int(c))
        chex.assert_shape(images, (n, *self.image_shape) if self.image_shape else (n, None, None, None))
        return images

      sample_fn.cluster = cluster
    if self._interp is not None:
      sample_fn.interpolate = lambda key, n, ts: self._interp(params, key, n, tuple(float(t) for t in ts))
    if self._classify is not None:
      sample_fn.classify = lambda support, query: self._classify(params, support, query)
    return sample_fn


def evaluate(
  samplers: Samplers, evaluators: dict, params, key, cache: dict | None = None
) -> dict[str, dict[str, float]]:
  """The one evaluation path (the loop, experiments/eval.py and every reproduction script use it).

  Runs each evaluator of `evaluators` ({name: Evaluator}) on the method's samplers at `params`, all with
  the same `key` (so fid, kid and pr share one pass of generated Inception features through `cache`,
  local to this call unless the caller passes one to share across calls with the same params and key).
  Returns {name: {value name: float}}.
  """
  cache = {} if cache is None else cache
  return {
    name: {k: float(v) for k, v in ev.run(samplers.for_evaluator(ev, params, cache), key).items()}
    for name, ev in evaluators.items()
  }
