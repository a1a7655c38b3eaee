"""The form in which a per-task function runs over the T tasks of a meta-batch.

  over_tasks(fn, form, *arrays) == stack([fn(a[0], b[0], ...), fn(a[1], b[1], ...), ...])

Forms: "unrolled" (a Python loop inside the jitted step: T copies of the task graph), "vmap" (one batched
graph) and "map" (jax.lax.map: one task graph in a loop). They compute the same values (tests check it);
their speed differs a lot on XLA:CPU, where the batched (grouped) and looped forms of these small
convolutions are slow. Measured for a second- / first-order MAML meta-iteration of the Omniglot learner
(4 tasks, 5-way 1-shot, 5 queries, 5 inner steps), see bench/meta_speed.py and the README; "unrolled" is
the default because it measured fastest here.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

FORMS = ("unrolled", "vmap", "map")


def over_tasks(fn: Callable, form: str, *arrays: jax.Array):
  """fn applied to each task (the leading axis of every array), outputs stacked on a new leading axis."""
  if form not in FORMS:
    raise ValueError(f"meta.task_form must be one of {', '.join(FORMS)}, got {form!r}")
  if form == "vmap":
    return jax.vmap(fn)(*arrays)
  if form == "map":
    return jax.lax.map(lambda args: fn(*args), arrays)
  outs = [fn(*(a[i] for a in arrays)) for i in range(arrays[0].shape[0])]
  return jax.tree.map(lambda *xs: jnp.stack(xs), *outs)
