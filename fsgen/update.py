"""The single optax update used by every method's phases.

Each phase builds a loss of one network's params (or of a few, e.g. COLA's generator and per-image
latents), and `gradient_step` differentiates it with respect to exactly those params, applies that
network's own optimizer and writes params and optimizer state back. Other networks in the state are
never arguments of `jax.grad`, so they stay bit-identical.
"""

from __future__ import annotations

from typing import Callable

import jax
import optax


def gradient_step(state: dict, nets: str | tuple[str, ...], txs: dict[str, optax.GradientTransformation],
                  loss_fn: Callable) -> tuple[dict, dict]:
  """One optimizer step on `state["params"][net]` for each net in `nets`.

  Args:
    state: the train state (see fsgen.methods.base).
    nets: one network name, or several optimised jointly (each with its own optimizer).
    txs: optax transformations by network name.
    loss_fn: params -> (scalar loss, metrics dict). With a tuple `nets`, params is {net: tree}.
  Returns:
    (new state, metrics) with metrics[f"{name}/grad_norm"] added for each net.
  """
  names = (nets,) if isinstance(nets, str) else tuple(nets)
  params = {n: state["params"][n] for n in names}
  arg = params[names[0]] if isinstance(nets, str) else params
  (_, metrics), grads = jax.value_and_grad(loss_fn, has_aux=True)(arg)
  grads = {names[0]: grads} if isinstance(nets, str) else grads
  new_params, new_opt = dict(state["params"]), dict(state["opt"])
  metrics = dict(metrics)
  for n in names:
    updates, new_opt[n] = txs[n].update(grads[n], state["opt"][n], params[n])
    new_params[n] = optax.apply_updates(params[n], updates)
    metrics[f"{n}/grad_norm"] = optax.global_norm(grads[n])
  return {**state, "params": new_params, "opt": new_opt}, metrics


def ema_update(ema, params, decay: float):
  """Exponential moving average: ema + (1 - decay) * (params - ema), leaf by leaf."""
  return jax.tree.map(lambda e, p: e + (1.0 - decay) * (p - e), ema, params)
