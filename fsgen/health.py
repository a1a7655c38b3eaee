"""The loop's health guard: non-finite values and divergence, recorded inside the jitted phases.

After every phase, one check over its metrics and the networks' parameters: every value finite, each
network's parameter norm (global L2 over its leaves) at most `config.max_param_norm`, and every
`*/grad_norm` metric at most `config.max_grad_norm` (a bound of 0 turns that check off). The first failure
is kept in state["health"] (step, phase, kind, value, network) on the device, so the check costs no host
sync; the loop reads it at every log and before every checkpoint and stops with one line, so no
checkpoint ever holds a state that failed the check.

Why a norm bound: a generator blown up by a huge learning rate can stay finite (parameters near 1e30,
gradients that vanish in saturated units, one distinct sample) while its losses look quiet. The default
bound 1e6 is orders of magnitude above the parameter norms of the networks here at any stage (a few
hundred for DCGAN-size nets, ~1e4 for an equalised-learning-rate StyleGAN2 whose weights are N(0, 1)).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import optax

KINDS = ("non-finite loss or parameters", "parameter norm", "gradient norm")


class TrainingHealthError(FloatingPointError):
  """The run stopped because a phase failed the health check; the message names step, phase and value."""


class NonFiniteError(TrainingHealthError):
  """A phase produced a NaN/Inf metric or parameter."""


class DivergedError(TrainingHealthError):
  """A network's parameter norm or a gradient norm left its configured bound."""


@dataclasses.dataclass(frozen=True)
class Guard:
  """The bounds (0 = unbounded): config.max_param_norm, config.max_grad_norm."""

  max_param_norm: float = 1e6
  max_grad_norm: float = 0.0

  @classmethod
  def of(cls, config) -> Guard:
    return cls(float(config.get("max_param_norm", 1e6) or 0.0), float(config.get("max_grad_norm", 0.0) or 0.0))


def initial() -> dict:
  """A clean record: no failure yet (bad_step -1)."""
  minus_one = lambda: -jnp.ones((), jnp.int32)
  return {
    "bad_step": minus_one(),
    "bad_phase": minus_one(),
    "bad_kind": minus_one(),
    "bad_net": minus_one(),
    "bad_value": jnp.zeros((), jnp.float32),
  }


def record(guard: Guard, health: dict, step, phase_index: int, metrics: dict, params: dict) -> dict:
  """The health record after a phase (traced inside the phase's jit). params: {net: tree}."""
  leaves = jax.tree.leaves(metrics) + jax.tree.leaves(params)
  finite = jnp.all(jnp.stack([jnp.all(jnp.isfinite(v)) for v in leaves]))
  nets = sorted(params)
  norms = jnp.stack([optax.global_norm(params[n]).astype(jnp.float32) for n in nets])
  kind, value, net = jnp.where(finite, -1, 0), jnp.float32(jnp.nan), jnp.int32(-1)
  if guard.max_param_norm > 0:
    worst = jnp.argmax(norms)
    over = finite & (kind < 0) & (norms[worst] > guard.max_param_norm)
    kind, value, net = jnp.where(over, 1, kind), jnp.where(over, norms[worst], value), jnp.where(over, worst, net)
  grads = [v.astype(jnp.float32) for k, v in metrics.items() if k.endswith("/grad_norm")]
  if guard.max_grad_norm > 0 and grads:
    biggest = jnp.max(jnp.stack(grads))
    over = finite & (kind < 0) & (biggest > guard.max_grad_norm)
    kind, value = jnp.where(over, 2, kind), jnp.where(over, biggest, value)
  first = (kind >= 0) & (health["bad_step"] < 0)
  keep = lambda new, old: jnp.where(first, new, old).astype(old.dtype)
  return {
    "bad_step": keep(step, health["bad_step"]),
    "bad_phase": keep(phase_index, health["bad_phase"]),
    "bad_kind": keep(kind, health["bad_kind"]),
    "bad_net": keep(net, health["bad_net"]),
    "bad_value": keep(value, health["bad_value"]),
  }


def raise_if_unhealthy(health: dict, phase_names, net_names, guard: Guard, last_good: str) -> None:
  """Raises NonFiniteError or DivergedError with one line if `health` (host values) records a failure.

  last_good: what the message says about the kept checkpoint ("last good checkpoint: step 20 in DIR").
  """
  bad_step = int(health["bad_step"])
  if bad_step < 0:
    return
  phase = phase_names[int(health["bad_phase"])]
  kind = int(health["bad_kind"])
  if kind == 0:
    raise NonFiniteError(f"non-finite loss or parameters at step {bad_step} in phase {phase!r}; {last_good}")
  value = float(health["bad_value"])
  if kind == 1:
    net = net_names[int(health["bad_net"])]
    what = f"parameter norm of {net} {value:.3g} > max_param_norm={guard.max_param_norm:g}"
  else:
    what = f"gradient norm {value:.3g} > max_grad_norm={guard.max_grad_norm:g}"
  raise DivergedError(f"diverged at step {bad_step} in phase {phase!r}: {what}; {last_good}")
