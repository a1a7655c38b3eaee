"""fsgen's MAML meta-iteration (fsgen.meta, LASIUM's learner) timed as bench/step_speed.py times a step.

  python bench/maml_speed.py [--order 2] [--steps 16] [--task-form unrolled]

One meta-iteration = the mean query loss of 4 tasks (5-way 1-shot, 5 queries per class, 28x28x1 random
images, fixed label order) after 5 inner SGD steps at lr 0.4 on the Omniglot 4-conv learner, its gradient
(second order through the inner steps, or first order) and one Adam(1e-3) step, jitted once with the state
donated. Prints one JSON line (ms_per_step, compile_s) for bench/peer_compare.py; the peer is
bench/peers/maml.py.
"""

import argparse
import json
import pathlib
import resource
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))


def main():
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument("--order", type=int, default=2, choices=(1, 2))
  p.add_argument("--steps", type=int, default=16)
  p.add_argument("--task-form", default="unrolled")
  a = p.parse_args()
  import jax  # pylint: disable=import-outside-toplevel
  import jax.numpy as jnp  # pylint: disable=import-outside-toplevel
  import ml_collections  # pylint: disable=import-outside-toplevel
  import numpy as np  # pylint: disable=import-outside-toplevel

  from fsgen import optim  # pylint: disable=import-outside-toplevel
  from fsgen.meta.learner import MetaLearner  # pylint: disable=import-outside-toplevel
  from fsgen.update import gradient_step  # pylint: disable=import-outside-toplevel

  c = ml_collections.ConfigDict(
    dict(
      learner=dict(algorithm="maml", width=64, blocks=4, downsample="stride"),
      maml=dict(inner_lr=0.4, inner_steps=5, eval_steps=50, first_order=a.order == 1),
      protonets=dict(distance="mean"),
      meta=dict(n_way=5, k_shot=1, k_query=5, task_form=a.task_form),
    )
  )
  learner = MetaLearner(c)
  txs = {"learner": optim.build(dict(name="adam", learning_rate=1e-3))}
  rng = np.random.default_rng(0)
  support = jnp.asarray(rng.uniform(-1, 1, (4, 5, 1, 28, 28, 1)).astype(np.float32))
  query = jnp.asarray(rng.uniform(-1, 1, (4, 5, 5, 28, 28, 1)).astype(np.float32))
  params = {"learner": learner.init(jax.random.key(0), (28, 28, 1))}
  state = {"params": params, "opt": {"learner": txs["learner"].init(params["learner"])}}

  def meta_step(state, support, query):
    return gradient_step(state, "learner", txs, lambda p: learner.meta_loss(p, support, query))

  step = jax.jit(meta_step, donate_argnums=0)
  t0 = time.perf_counter()
  for _ in range(2):
    state, _ = step(state, support, query)
  jax.block_until_ready(state)
  compile_s = time.perf_counter() - t0
  t0 = time.perf_counter()
  for _ in range(a.steps):
    state, _ = step(state, support, query)
  jax.block_until_ready(state)
  dt = (time.perf_counter() - t0) / a.steps
  out = {"ms_per_step": 1000 * dt, "compile_s": compile_s, "batch": 4}
  out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
  print(json.dumps(out))


if __name__ == "__main__":
  main()
