"""What the two LASIUM meta-learning methods share: the learner's config schema, its state, the meta step
and the evaluation entry point. `lasium` feeds it tasks made by a generator; `lasium_supervised` feeds it
real labelled episodes (the upper bound; with no meta-training steps, training from scratch).

Config (defaults: the paper's Tables 5-6 for Omniglot and the official code where the paper is silent):
  config.batch_size = 4                   tasks per meta-iteration (the meta-batch, N_MB)
  config.meta = {n_way: 5, k_shot: 1, k_query: 5, task_form: "unrolled"}
  config.learner = {algorithm: "maml" | "protonets", width: 64, blocks: 4, downsample: "stride"}
  config.maml = {inner_lr: 0.4, inner_steps: 5, eval_steps: 50, first_order: False, eval_unroll: True}
  config.protonets = {distance: "mean"}   (official: squared Euclidean / D; "sum": textbook)
  config.optim.learner = Adam(1e-3)       the meta optimiser
The official code's gradient clipping is a no-op (its clipped gradients are discarded) and is absent here.

State: params {"learner": tree}, opt {"learner": Adam state}, ema {}, extra {...}, and for lasium the
frozen generator in state["frozen"]. Sampling params (the export): {"learner": tree, ...}.
`classify_episodes(params, support [T, N, K, H, W, C], query [T, N, Q, ...]) -> labels [T, N, Q]` is what
the `episodes` evaluator (fsgen.metrics.episodes) scores.
"""

from __future__ import annotations

import jax
import ml_collections

from fsgen import configs, optim
from fsgen.meta.learner import MetaLearner
from fsgen.meta.over_tasks import over_tasks
from fsgen.methods.base import Method as BaseMethod
from fsgen.update import gradient_step


def learner_defaults(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """Adds the meta-learner's sections (defaults above) to a config built on configs.loop_defaults()."""
  c.batch_size = 4
  c.meta = dict(n_way=5, k_shot=1, k_query=5, task_form="unrolled")
  c.learner = dict(algorithm="maml", width=64, blocks=4, downsample="stride")
  c.maml = dict(inner_lr=0.4, inner_steps=5, eval_steps=50, first_order=False, eval_unroll=True)
  c.protonets = dict(distance="mean")
  c.optim = dict(learner=dict(name="adam", learning_rate=1e-3))
  c.data = configs.data_defaults(resolution=28, channels=1)
  return c


class LearnerMethod(BaseMethod):
  """Base of the meta-learning methods: subclasses supply `tasks(state, data, key)` and the state extras."""

  def __init__(self, config, info):
    super().__init__(config, info)
    self.learner = MetaLearner(config)
    self.tx = {"learner": optim.build(config.optim.learner)}
    self.meta = config.meta
    self.num_tasks = config.batch_size
    if self.meta.n_way < 2:
      raise ValueError(f"config.meta.n_way must be >= 2, got {self.meta.n_way}")

  def learner_state(self, key: jax.Array) -> dict:
    params = {"learner": self.learner.init(key, self.info.image_shape)}
    return {"params": params, "opt": {"learner": self.tx["learner"].init(params["learner"])}, "ema": {}}

  def tasks(self, state, data, key):
    """(support [T, N, K, H, W, C], query [T, N, Q, H, W, C], metrics) for one meta-iteration."""
    raise NotImplementedError

  def meta_step(self, state, data, key):
    """One meta-iteration: T tasks, the mean query loss after adaptation, one Adam step of the learner."""
    support, query, task_metrics = self.tasks(state, data, key)

    def loss_fn(params):
      loss, metrics = self.learner.meta_loss(params, support, query)
      return loss, metrics

    state, metrics = gradient_step(state, "learner", self.tx, loss_fn)
    return state, {**metrics, **task_metrics}

  def classify_episodes(self, params, support, query):
    """Predicted labels int32 [T, N, Q] of T evaluation episodes (MAML adapts config.maml.eval_steps)."""
    return over_tasks(lambda s, q: self.learner.predict(params["learner"], s, q), self.meta.task_form, support, query)
