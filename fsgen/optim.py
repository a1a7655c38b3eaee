"""Optimizers built by name from config: one optax transformation per trainable network."""

from __future__ import annotations

import optax


def build(cfg) -> optax.GradientTransformation:
  """`cfg` = {name: an optax function name (adam, adamw, sgd...), learning_rate, ...its other kwargs}.

  Optional `clip_norm` prepends global-norm clipping.
  """
  kwargs = dict(cfg)
  name = kwargs.pop("name")
  clip = kwargs.pop("clip_norm", None)
  fn = getattr(optax, name, None)
  if fn is None or not callable(fn):
    raise ValueError(f"unknown optimizer {name!r}: not a function of optax")
  tx = fn(**kwargs)
  return optax.chain(optax.clip_by_global_norm(clip), tx) if clip else tx
