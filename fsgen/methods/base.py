"""The method interface that the one training loop (fsgen.train) runs.

A method is a class built from the config and the data facts (`info`, a fsgen.data.info.DataInfo:
number of images, image shape, number of classes, batch size and steps per epoch), holding only static things (network
modules, optimizers,
hyper-parameters). All mutable training data lives in the state pytree:

  state = {"params": {net: tree}, "opt": {net: optax state}, "ema": {net: tree},
           "extra": {...method leaves: latents, thresholds, targets, counters...}}

to which the loop adds "step" (int32) and "health" (first non-finite step and phase).

  init(key, data, prior=None) -> state      data = {"images": uint8 [N,H,W,C], "labels": int32 [N]?}
  phases() -> [Phase]                        pure (state, data, key) -> (state, metrics) functions
  sampling_params(state) -> tree             what sampling needs (e.g. the EMA generator); exported
  sample(params, key, n) -> [n, H, W, C]     float images in [-1, 1]

`prior` is the restored state of `config.init_from` (an earlier stage's workdir) or None.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Callable
from typing import Any

import jax

from fsgen.data.info import DataInfo  # noqa: F401  (the type of Method.info)
from fsgen.nets import precision

State = dict[str, Any]
PhaseFn = Callable[[State, dict, jax.Array], tuple[State, dict[str, jax.Array]]]


@dataclasses.dataclass(frozen=True)
class Phase:
  """One jitted piece of a training step.

  name: short name used in metrics, errors and compile counts ("D", "G", "D_r1", "rematch").
  fn: pure (state, data, key) -> (state, metrics: flat dict of scalars named "<net>/<term>").
  every, offset, length: run at the steps where (step - offset) % every < length, i.e. `length`
    consecutive steps out of every `every`, starting at `offset` (default: every step). COLA's
    alternating epochs are every = 2 * steps_per_epoch, length = steps_per_epoch, offset 0 or
    steps_per_epoch.
  ema: {net: decay}: after fn, the loop updates state["ema"][net] toward state["params"][net]; decay is a
    float or a function of the step (e.g. fsgen.update.ema_rampup_decay).
  """

  name: str
  fn: PhaseFn
  every: int = 1
  offset: int = 0
  length: int = 1
  ema: dict[str, float | Callable] = dataclasses.field(default_factory=dict)

  def __post_init__(self):
    if self.every < 1 or not 0 <= self.offset < self.every or not 1 <= self.length <= self.every:
      raise ValueError(
        f"phase {self.name!r}: needs every >= 1, 0 <= offset < every and 1 <= length <= every "
        f"(got every={self.every}, offset={self.offset}, length={self.length})"
      )

  def runs_at(self, step: int) -> bool:
    return (step - self.offset) % self.every < self.length


class Method(abc.ABC):
  """Base class: keeps the config and the data facts; subclasses implement the four functions."""

  def __init__(self, config, info):
    self.config = config
    self.info = info

  def mixed(self, module):
    """`module` computing in config.dtype (fsgen.nets.precision.with_dtype): "float32" (default) returns it
    unchanged; "bfloat16" keeps float32 parameters and optimizer state and computes in bfloat16. Every
    network of every method is built through this one switch."""
    return precision.with_dtype(module, self.config.get("dtype", "float32"))

  @abc.abstractmethod
  def init(self, key: jax.Array, data: dict, prior: State | None = None) -> State: ...

  @abc.abstractmethod
  def phases(self) -> list[Phase]: ...

  @abc.abstractmethod
  def sampling_params(self, state: State): ...

  @abc.abstractmethod
  def sample(self, params, key: jax.Array, n: int) -> jax.Array: ...


def warm_start(params: dict, prior: State | None, nets=None) -> dict:
  """params with the networks `nets` (default: all of params) taken from `prior["params"]`.

  `prior` is the restored state of config.init_from (numpy leaves) or None (then params is returned).
  Each taken network must have the same tree structure and shapes as the freshly built one; a mismatch
  is a one-line error naming the network.
  """
  if prior is None:
    return params
  out = dict(params)
  for net in params if nets is None else nets:
    if net not in prior.get("params", {}):
      raise ValueError(f"config.init_from has no network {net!r} (it has {', '.join(prior.get('params', {}))})")
    new = jax.tree.map(jax.numpy.asarray, prior["params"][net])
    same = jax.tree.structure(new) == jax.tree.structure(params[net]) and all(
      a.shape == b.shape for a, b in zip(jax.tree.leaves(new), jax.tree.leaves(params[net]))
    )
    if not same:
      raise ValueError(f"config.init_from: network {net!r} differs in structure or shapes from this config's")
    out[net] = new
  return out
