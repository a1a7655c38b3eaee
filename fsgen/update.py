"""The single optax update used by every method's phases.

Each phase builds a loss of one network's params (or of a few, e.g. COLA's generator and per-image
latents), and `gradient_step` differentiates it with respect to exactly those params, applies that
network's own optimizer and writes params and optimizer state back. Other networks in the state are
never arguments of `jax.grad`, so they stay bit-identical.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax


def gradient_step(
  state: dict,
  nets: str | tuple[str, ...],
  txs: dict[str, optax.GradientTransformation],
  loss_fn: Callable,
  *,
  has_aux: bool = False,
):
  """One optimizer step on `state["params"][net]` for each net in `nets`.

  Args:
    state: the train state (see fsgen.methods.base).
    nets: one network name, or several optimised jointly (each with its own optimizer).
    txs: optax transformations by network name.
    loss_fn: params -> (scalar loss, metrics dict), or with `has_aux` -> (loss, metrics, aux), where aux
      carries non-metric outputs of the forward pass (new batch statistics, running means) that the phase
      writes into the state itself. With a tuple `nets`, params is {net: tree}.
  Returns:
    (new state, metrics), or (new state, metrics, aux) with `has_aux`; metrics[f"{name}/grad_norm"] is
    added for each net.
  """
  names = (nets,) if isinstance(nets, str) else tuple(nets)
  params = {n: state["params"][n] for n in names}
  arg = params[names[0]] if isinstance(nets, str) else params

  def wrapped(p):
    out = loss_fn(p)
    if has_aux:
      loss, metrics, aux = out
    else:
      (loss, metrics), aux = out, None
    return loss, (metrics, aux)

  (_, (metrics, aux)), grads = jax.value_and_grad(wrapped, has_aux=True)(arg)
  grads = {names[0]: grads} if isinstance(nets, str) else grads
  new_params, new_opt = dict(state["params"]), dict(state["opt"])
  metrics = dict(metrics)
  for n in names:
    updates, new_opt[n] = txs[n].update(grads[n], state["opt"][n], params[n])
    new_params[n] = optax.apply_updates(params[n], updates)
    metrics[f"{n}/grad_norm"] = optax.global_norm(grads[n])
  new_state = {**state, "params": new_params, "opt": new_opt}
  return (new_state, metrics, aux) if has_aux else (new_state, metrics)


def ema_update(ema, params, decay: float):
  """Exponential moving average: ema + (1 - decay) * (params - ema), leaf by leaf."""
  return jax.tree.map(lambda e, p: e + (1.0 - decay) * (p - e), ema, params)


def ema_rampup_decay(decay: float, rampup: float):
  """StyleGAN2-ADA's EMA ramp-up (its training loop's `ema_rampup`), counted in steps: the EMA's half-life
  is min(h, rampup * step) steps, h = ln 0.5 / ln decay, i.e. decay(step) = min(decay, 0.5 ** (1 /
  (rampup * step))): 0 at step 0 (the EMA starts as the weights), `decay` once rampup * step >= h. Early
  weights then stop weighing on the average of a short run. Returns step (int array) -> decay (float32)."""
  if not 0.0 < decay < 1.0 or rampup <= 0.0:
    raise ValueError(f"ema_rampup_decay needs 0 < decay < 1 and rampup > 0 (got decay={decay}, rampup={rampup})")

  def decay_at(step):
    half_life = jnp.maximum(rampup * jnp.asarray(step, jnp.float32), 1e-8)
    return jnp.minimum(decay, 0.5 ** (1.0 / half_life))

  return decay_at
