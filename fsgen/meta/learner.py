"""The meta-learner of the LASIUM methods: MAML or ProtoNets on the Omniglot learner net, over tasks.

Built from the config sections the meta-learning methods share (see fsgen.methods.lasium_learning):
  config.learner   = {algorithm: "maml" | "protonets", width, blocks, downsample: "stride" | "maxpool"}
  config.maml      = {inner_lr, inner_steps (meta-training), eval_steps (evaluation), first_order,
                      eval_unroll: the evaluation steps as a Python loop (True: 4x faster on XLA:CPU than a
                      fori_loop, measured in bench/meta_speed.py; longer to compile)}
  config.protonets = {distance: "mean" | "sum"}
  config.meta      = {n_way, k_shot, k_query, task_form: "unrolled" | "vmap" | "map"}
Defaults are the paper's Tables 5-6 (Omniglot): 5-way, inner lr 0.4, 5 inner steps, 50 at evaluation.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from fsgen.meta import maml, protonets
from fsgen.meta.over_tasks import over_tasks
from fsgen.nets.omniglot_learner import OmniglotLearner
from fsgen.nets.precision import with_dtype

ALGORITHMS = ("maml", "protonets")


class MetaLearner:
  """Static description of the learner; its parameters live in the train state."""

  def __init__(self, config):
    lc, self.hp_maml, self.meta = config.learner, config.maml, config.meta
    self.algorithm = lc.algorithm
    if self.algorithm not in ALGORITHMS:
      raise ValueError(f"config.learner.algorithm must be one of {', '.join(ALGORITHMS)}, got {self.algorithm!r}")
    self.distance = config.protonets.distance
    net = OmniglotLearner(
      num_classes=self.meta.n_way,
      width=lc.width,
      blocks=lc.blocks,
      downsample=lc.downsample,
      head="dense" if self.algorithm == "maml" else "flatten",
    )
    self.net = with_dtype(net, config.get("dtype", "float32"))  # config.dtype (fsgen.nets.precision)

  def init(self, key: jax.Array, image_shape: tuple[int, int, int]):
    return self.net.init(key, jnp.zeros((2, *image_shape)))["params"]

  def apply(self, params, images: jax.Array) -> jax.Array:
    """[B, H, W, C] -> logits [B, n_way] (MAML) or features [B, F] (ProtoNets), batch statistics."""
    return self.net.apply({"params": params}, images)

  def task_loss(self, params, support: jax.Array, query: jax.Array):
    """(query loss, query accuracy) of one task (support [N, K, H, W, C], query [N, Q, H, W, C])."""
    if self.algorithm == "maml":
      hp = self.hp_maml
      return maml.task_loss(
        self.apply, params, support, query, steps=hp.inner_steps, lr=hp.inner_lr, first_order=hp.first_order
      )
    return protonets.task_loss(self.apply, params, support, query, reduction=self.distance)

  def meta_loss(self, params, support: jax.Array, query: jax.Array):
    """(mean query loss over the T tasks, metrics) for support [T, N, K, ...] and query [T, N, Q, ...]."""
    losses, accs = over_tasks(lambda s, q: self.task_loss(params, s, q), self.meta.task_form, support, query)
    loss = jnp.mean(losses)
    return loss, {"learner/query_loss": loss, "learner/query_acc": jnp.mean(accs)}

  def predict(self, params, support: jax.Array, query: jax.Array) -> jax.Array:
    """Evaluation on one task: predicted labels int32 [N, Q] (MAML adapts eval_steps steps first)."""
    if self.algorithm == "maml":
      hp = self.hp_maml
      unroll = hp.get("eval_unroll", True)
      return maml.predict(self.apply, params, support, query, steps=hp.eval_steps, lr=hp.inner_lr, unroll=unroll)
    return protonets.predict(self.apply, params, support, query, reduction=self.distance)
