"""Optimizers and learning-rate schedules: one optax transformation per trainable network.

`build(cfg)` makes an optimizer by optax name from config; `halving` is the one "x0.5 every k epochs"
schedule (COLA Step I and II, the B.3 classifiers); `sgd` is SGD with momentum and torch-style coupled
weight decay, optionally sparing one-dimensional parameters (biases, batch-norm scales and offsets).
"""

from __future__ import annotations

import jax
import optax


def build(cfg) -> optax.GradientTransformation:
  """`cfg` = {name: an optax function name (adam, adamw, sgd...), learning_rate, ...its other kwargs}.

  learning_rate may be a number or an optax schedule (e.g. `halving(...)`). Optional `clip_norm`
  prepends global-norm clipping.
  """
  kwargs = dict(cfg)
  name = kwargs.pop("name")
  clip = kwargs.pop("clip_norm", None)
  fn = getattr(optax, name, None)
  if fn is None or not callable(fn):
    raise ValueError(f"unknown optimizer {name!r}: not a function of optax")
  tx = fn(**kwargs)
  return optax.chain(optax.clip_by_global_norm(clip), tx) if clip else tx


def halving(learning_rate: float, every: int) -> optax.Schedule:
  """learning_rate x 0.5 after every `every` optimizer updates (staircase, as torch's StepLR(every, 0.5)).

  `every` counts updates of the optimizer that uses the schedule: a method whose one optimizer steps in
  several phases converts "every k epochs" with the number of its updates per epoch.
  """
  if not isinstance(every, int) or isinstance(every, bool) or every < 1:
    raise ValueError(f"halving interval must be a positive number of updates, got {every!r}")
  return optax.exponential_decay(learning_rate, every, 0.5, staircase=True)


def matrices_only(params):
  """Weight-decay mask: True for parameters with more than one dimension (kernels), False for biases and
  normalisation scales/offsets."""
  return jax.tree.map(lambda p: p.ndim > 1, params)


def sgd(learning_rate, *, momentum: float, weight_decay: float = 0.0, decay_vectors: bool = True):
  """SGD with momentum and coupled weight decay as torch.optim.SGD: g + wd * p, then momentum, then lr.

  Args:
    learning_rate: a number or an optax schedule.
    momentum: heavy-ball momentum (dampening 0, no Nesterov).
    weight_decay: L2 coefficient added to the gradient.
    decay_vectors: decay every parameter (True, torch's default) or only those with ndim > 1 (False,
      as MMDC's code, on which COLA's Step I builds).
  """
  decay = optax.add_decayed_weights(weight_decay, mask=None if decay_vectors else matrices_only)
  return optax.chain(decay, optax.sgd(learning_rate, momentum=momentum))
