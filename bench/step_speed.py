"""Training-step speed of the `gan` baseline: ms/step, images/s and compile time, batch 64, 32 and 64 px.

  python bench/step_speed.py [--steps 30] [--batch 64] [--width 64]

A step is what the training loop runs per iteration (phases D and G, donated state, jitted once each),
timed after a warm-up with the result blocked on. Compile time is the first call of each phase.
"""

import argparse
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from fsgen import parallel  # noqa: E402
from fsgen.methods import gan  # noqa: E402
from fsgen.train import PhaseRunner, initial_state  # noqa: E402


def bench_gan(resolution: int, batch: int, width: int, steps: int) -> dict:
  c = gan.default_config()
  c.data.resolution, c.data.channels, c.batch_size = resolution, 3, batch
  c.model.G.width = c.model.D.width = width
  method = gan.Method(c)
  mesh = parallel.make_mesh(1)
  repl = parallel.replicated(mesh)
  with jax.set_mesh(mesh):
    data = {"images": jax.device_put(
        jnp.asarray(np.random.default_rng(0).integers(0, 255, (100, resolution, resolution, 3), np.uint8)), repl)}
    state = jax.jit(lambda k: initial_state(method, k, data), out_shardings=repl)(jax.random.key(0))
    runner = PhaseRunner(method.phases(), repl)
    key = jax.random.key(1)
    t0 = time.perf_counter()
    state = runner.step(state, data, key, 0, {})
    jax.block_until_ready(state)
    compile_s = time.perf_counter() - t0
    for s in range(1, 4):  # warm-up
      state = runner.step(state, data, key, s, {})
    jax.block_until_ready(state)
    t0 = time.perf_counter()
    for s in range(4, 4 + steps):
      state = runner.step(state, data, key, s, {})
    jax.block_until_ready(state)
    dt = (time.perf_counter() - t0) / steps
  return {"ms_per_step": 1000 * dt, "images_per_s": batch / dt, "compile_s": compile_s}


def main():
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument("--steps", type=int, default=30)
  p.add_argument("--batch", type=int, default=64)
  p.add_argument("--width", type=int, default=64)
  a = p.parse_args()
  print(f"JAX {jax.__version__} on {jax.devices()[0].device_kind}, batch {a.batch}, width {a.width}")
  print(f"{'method':<8}{'px':>5}{'ms/step':>10}{'images/s':>10}{'compile s':>11}")
  for res in (32, 64):
    r = bench_gan(res, a.batch, a.width, a.steps)
    print(f"{'gan':<8}{res:>5}{r['ms_per_step']:>10.1f}{r['images_per_s']:>10.1f}{r['compile_s']:>11.1f}")


if __name__ == "__main__":
  main()
