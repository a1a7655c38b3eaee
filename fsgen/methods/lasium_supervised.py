"""`lasium_supervised`: supervised meta-learning on real labelled episodes, the upper bound of LASIUM's
tables ("Supervised MAML" / "Supervised ProtoNets"). Its learner at initialisation (no meta-training),
evaluated with MAML's 50 adaptation steps, is the "training from scratch" baseline (the loop refuses 0
steps, so experiments/reproduce/lasium.py builds and evaluates it without the loop).

The learner and its config are fsgen.methods.lasium_learning's. Each meta-iteration draws
config.batch_size episodes from the labelled training set (fsgen.data.episodes.sample_episode: N distinct
classes, K + Q distinct images each; classes with fewer images are skipped), with the same K and Q as
LASIUM's generated tasks so the two differ only in where the tasks come from.

Phase "meta" (every step). Sampling (grids, export): the images of one fixed training episode drawn at
init (class-major), since the method generates nothing.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_collections

from fsgen import configs
from fsgen.data.episodes import sample_episode
from fsgen.data.preprocess import to_float
from fsgen.methods.base import Phase, warm_start
from fsgen.methods.lasium_learning import LearnerMethod, learner_defaults


def default_config() -> ml_collections.ConfigDict:
  """A complete `lasium_supervised` config: supervised MAML with the paper's Table 5 settings."""
  c = learner_defaults(configs.loop_defaults())
  c.method = "lasium_supervised"
  return c


class Method(LearnerMethod):
  def __init__(self, config, info):
    super().__init__(config, info)
    if info.num_classes < self.meta.n_way:
      raise ValueError(
        f"lasium_supervised needs labelled data with >= {self.meta.n_way} classes (config.meta.n_way); "
        f"the training set has {info.num_classes}"
      )

  def _episodes(self, data, key, num_tasks: int):
    m = self.meta
    draw = lambda k: sample_episode(
      k, data["labels"], self.info.num_classes, n_way=m.n_way, k_shot=m.k_shot, k_query=m.k_query
    )
    support_idx, query_idx = jax.vmap(draw)(jax.random.split(key, num_tasks))
    return data["images"][support_idx], data["images"][query_idx]

  def init(self, key, data, prior=None):
    if "labels" not in data:
      raise ValueError("lasium_supervised needs labelled data (the loop found no labels in config.data)")
    kl, kp = jax.random.split(key)
    state = self.learner_state(kl)
    state["params"] = warm_start(state["params"], prior, nets=["learner"])
    support, query = self._episodes(data, kp, 1)
    preview = jnp.concatenate([support, query], axis=2)[0]
    return {**state, "extra": {"preview": preview.reshape(-1, *preview.shape[2:])}}

  def tasks(self, state, data, key):
    support, query = self._episodes(data, key, self.num_tasks)
    return to_float(support), to_float(query), {}

  def phases(self):
    return [Phase("meta", self.meta_step)]

  def sampling_params(self, state):
    return {"learner": state["params"]["learner"], "preview": state["extra"]["preview"]}

  def sample(self, params, key, n):
    """The fixed training episode's images [n, H, W, C] in [-1, 1] (repeated when n is larger)."""
    preview = params["preview"]
    reps = -(-n // preview.shape[0])
    return to_float(jnp.tile(preview, (reps, 1, 1, 1))[:n])
