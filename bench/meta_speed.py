"""Speed of LASIUM's meta-learning on the Omniglot learner: ms per meta-iteration and per evaluation task.

  python bench/meta_speed.py [--repeats 20] [--rows all] [--forms unrolled,vmap,map]

Meta-iteration rows (4 tasks, 5-way 1-shot, 5 queries per class, 5 inner steps; forward, meta-gradient
and the Adam update, on fixed task images): MAML second order and first order in each task form
(fsgen.meta.over_tasks), ProtoNets; and the whole `lasium` meta phase with task sampling from the CPU
(width 32) and the paper (width 128) GAN generators; one lasium_gan D + G step (batch 64) with the
generator's transposed convolutions in sub-pixel form and as flax's ConvTranspose. Evaluation rows: one
5-way task with 15 queries per class after 50 adaptation steps (1 and 5 shots), 1 or 10 tasks per jitted
call; ms per task, the 50 steps as a lax.fori_loop or a Python loop (config.maml.eval_unroll). Compile seconds
(the first call) are printed separately. Prints a markdown table with the
machine's load average, which says how quiet the machine was.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import statistics
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import jax
import jax.numpy as jnp
import optax

from fsgen.data.info import DataInfo
from fsgen.meta.learner import MetaLearner
from fsgen.methods import lasium, lasium_gan
from fsgen.nets import omniglot_gan


def _config(algorithm="maml", form="unrolled", first_order=False):
  c = lasium.default_config()
  c.learner.algorithm = algorithm
  c.meta.task_form = form
  c.maml.first_order = first_order
  return c


def _time(fn, *args, repeats: int):
  """(compile + first call seconds, median wall ms, mean process-CPU ms of `repeats` further calls).

  CPU ms (all threads of this process) is what a call costs when other jobs share the cores; on an idle
  machine the wall time is what matters."""
  t0 = time.perf_counter()
  jax.block_until_ready(fn(*args))
  first = time.perf_counter() - t0
  times = []
  c0 = time.process_time()
  for _ in range(repeats):
    t0 = time.perf_counter()
    jax.block_until_ready(fn(*args))
    times.append((time.perf_counter() - t0) * 1000)
  return first, statistics.median(times), (time.process_time() - c0) * 1000 / repeats


def meta_iteration_row(algorithm, form, first_order, repeats):
  c = _config(algorithm, form, first_order)
  learner = MetaLearner(c)
  params = learner.init(jax.random.key(0), (28, 28, 1))
  tx = optax.adam(1e-3)
  opt = tx.init(params)
  support = jax.random.uniform(jax.random.key(1), (4, 5, 1, 28, 28, 1), minval=-1, maxval=1)
  query = jax.random.uniform(jax.random.key(2), (4, 5, 5, 28, 28, 1), minval=-1, maxval=1)

  @jax.jit
  def step(params, opt):
    (loss, _), grads = jax.value_and_grad(lambda p: learner.meta_loss(p, support, query), has_aux=True)(params)
    updates, opt = tx.update(grads, opt, params)
    return optax.apply_updates(params, updates), opt, loss

  return _time(lambda p, o: step(p, o)[2], params, opt, repeats=repeats)


def lasium_phase_row(width, repeats):
  c = _config()
  c.generator.width = width
  c.lasium.untrained_generator = True
  data = {"images": jnp.zeros((64, 28, 28, 1), jnp.uint8)}
  method = lasium.Method(c, DataInfo.for_arrays(data, c.batch_size))
  state = method.init(jax.random.key(0), data)
  step = jax.jit(method.meta_step)
  return _time(lambda s: step(s, data, jax.random.key(1))[1]["learner/query_loss"], state, repeats=repeats)


def gan_step_row(width, upsample, repeats):
  """One D step then one G step of lasium_gan (batch 64), the generator's transposed convs in `upsample` form."""
  c = lasium_gan.default_config()
  c.model.G.width, c.batch_size = width, 64
  data = {"images": jnp.zeros((128, 28, 28, 1), jnp.uint8)}
  method = lasium_gan.Method(c, DataInfo.for_arrays(data, c.batch_size))
  method.G = omniglot_gan.Generator(channels=1, width=width, upsample=upsample)
  state = method.init(jax.random.key(0), data)
  d_step, g_step = jax.jit(method.d_step), jax.jit(method.g_step)

  def both(state):
    state, _ = d_step(state, data, jax.random.key(1))
    state, metrics = g_step(state, data, jax.random.key(2))
    return metrics["G/adv"]

  return _time(both, state, repeats=repeats)


def eval_row(algorithm, form, shots, tasks_per_call, repeats, unroll=True):
  c = _config(algorithm, form)
  c.maml.eval_unroll = unroll
  data = {"images": jnp.zeros((8, 28, 28, 1), jnp.uint8)}
  c.lasium.untrained_generator = True
  method = lasium.Method(c, DataInfo.for_arrays(data, 4))
  params = {"learner": method.learner.init(jax.random.key(0), (28, 28, 1))}
  support = jax.random.uniform(jax.random.key(1), (tasks_per_call, 5, shots, 28, 28, 1), minval=-1, maxval=1)
  query = jax.random.uniform(jax.random.key(2), (tasks_per_call, 5, 15, 28, 28, 1), minval=-1, maxval=1)
  fn = jax.jit(method.classify_episodes)
  first, ms, cpu = _time(fn, params, support, query, repeats=repeats)
  return first, ms / tasks_per_call, cpu / tasks_per_call


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument("--repeats", type=int, default=20)
  p.add_argument("--forms", default="unrolled,vmap,map")
  p.add_argument("--rows", default="all", help="all, or a comma list of: meta, lasium, gan, eval")
  a = p.parse_args(argv)
  forms = a.forms.split(",")
  rows = {"meta", "lasium", "gan", "eval"} if a.rows == "all" else set(a.rows.split(","))
  print(f"jax {jax.__version__}, devices {jax.devices()}, load average before: {os.getloadavg()}")
  table = ["| row | form | compile + first call (s) | wall ms | CPU ms | per |", "|---|---|---|---|---|---|"]

  def add(name, form, result, unit="meta-iteration"):
    first, ms, cpu = result
    table.append(f"| {name} | {form} | {first:.1f} | {ms:.1f} | {cpu:.1f} | {unit} |")
    print(table[-1], flush=True)

  if "meta" in rows:
    for form in forms:
      add("MAML second order", form, meta_iteration_row("maml", form, False, a.repeats))
      add("MAML first order", form, meta_iteration_row("maml", form, True, a.repeats))
    add("ProtoNets", "unrolled", meta_iteration_row("protonets", "unrolled", False, a.repeats))
  if "lasium" in rows:
    for width in (32, 128):
      add(f"lasium phase, GAN width {width} (RO, MAML 2nd order)", "unrolled", lasium_phase_row(width, a.repeats))
  if "gan" in rows:
    for width in (32, 128):
      for upsample in ("subpixel", "transpose"):
        add(f"lasium_gan D + G step, width {width}, batch 64", upsample, gan_step_row(width, upsample, 5), "step")
  if "eval" in rows:
    for shots in (1, 5):
      for unroll in (False, True):
        loop = "Python-unrolled" if unroll else "fori_loop"
        add(
          f"MAML eval, 50 steps ({loop}), {shots}-shot, 1 task/call",
          "unrolled",
          eval_row("maml", "unrolled", shots, 1, max(3, a.repeats // 4), unroll),
          "task",
        )
      add(
        f"MAML eval, 50 steps (fori_loop), {shots}-shot, 10 tasks/call",
        "unrolled",
        eval_row("maml", "unrolled", shots, 10, 3, False),
        "task",
      )
      add(
        f"ProtoNets eval, {shots}-shot, 10 tasks/call",
        "unrolled",
        eval_row("protonets", "unrolled", shots, 10, a.repeats),
        "task",
      )
  print(f"load average after: {os.getloadavg()}")
  print("\n".join(table))


if __name__ == "__main__":
  main()
