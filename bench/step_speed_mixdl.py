"""Training-step speed of `mixdl`: StyleGAN2 and FastGAN backbones, with and without MixDL, 64 and 256 px.

  python bench/step_speed_mixdl.py [--steps 16] [--size paper|cpu] [--res 64,256] [--backbones stylegan2,fastgan]

A step is what the training loop runs per iteration, averaged over `steps` consecutive iterations after
one warm-up pass over every phase (with MixDL, half are mixup steps; lazy R1 / path length add their
share when `steps` is a multiple of 16). `size`: "paper" = config-f StyleGAN2 (batch 4) / FastGAN ngf 64
(batch 8), "cpu" = the light nets of the CPU presets (mixdl_*_cpu). Each row runs in its own process so
that peak memory (max RSS of that process, MB) is per row. Merge target: bench/step_speed.py (lead).
"""

import argparse
import json
import pathlib
import resource
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _config(backbone: str, res: int, size: str, mixdl_on: bool):
  from fsgen.methods import mixdl
  c = mixdl.default_config(backbone)
  c.data.resolution, c.data.channels = res, 3
  if size == "cpu":
    mixdl.light_model(c)
  return mixdl.set_mixdl(c, mixdl_on)


def run_row(backbone: str, res: int, size: str, mixdl_on: bool, steps: int) -> dict:
  import jax
  import jax.numpy as jnp
  import numpy as np
  from fsgen import parallel
  from fsgen.methods import mixdl
  from fsgen.train import PhaseRunner, initial_state

  c = _config(backbone, res, size, mixdl_on)
  method = mixdl.Method(c)
  mesh = parallel.make_mesh(1)
  repl = parallel.replicated(mesh)
  with jax.set_mesh(mesh):
    images = np.random.default_rng(0).integers(0, 255, (10, res, res, 3), np.uint8)
    data = {"images": jax.device_put(jnp.asarray(images), repl)}
    state = jax.jit(lambda k: initial_state(method, k, data), out_shardings=repl)(jax.random.key(0))
    runner = PhaseRunner(method.phases(), repl)
    key = jax.random.key(1)
    t0 = time.perf_counter()
    for s in range(2):  # step 0 runs every phase once (mixup, R1, PL), step 1 the plain ones
      state = runner.step(state, data, key, s, {})
    jax.block_until_ready(state)
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for s in range(2, 2 + steps):
      state = runner.step(state, data, key, s, {})
    jax.block_until_ready(state)
    dt = (time.perf_counter() - t0) / steps
  return {"backbone": backbone, "px": res, "mixdl": mixdl_on, "batch": c.batch_size, "ms_per_step": 1000 * dt,
          "images_per_s": c.batch_size / dt, "compile_s": compile_s,
          "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main():
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument("--steps", type=int, default=16)
  p.add_argument("--size", default="paper", choices=("paper", "cpu"))
  p.add_argument("--res", default="64,256")
  p.add_argument("--backbones", default="stylegan2,fastgan")
  p.add_argument("--row", default="", help=argparse.SUPPRESS)  # internal: backbone,res,mixdl
  a = p.parse_args()
  if a.row:
    backbone, res, on = a.row.split(",")
    print(json.dumps(run_row(backbone, int(res), a.size, on == "1", a.steps)))
    return
  import jax
  print(f"JAX {jax.__version__} on {jax.devices()[0].device_kind}, size {a.size}, {a.steps} timed steps")
  print(f"{'backbone':<10}{'px':>5}{'mixdl':>7}{'batch':>6}{'ms/step':>10}{'images/s':>10}{'compile s':>11}"
        f"{'peak MB':>9}")
  for backbone in a.backbones.split(","):
    for res in map(int, a.res.split(",")):
      for on in (False, True):
        cmd = [sys.executable, __file__, f"--row={backbone},{res},{int(on)}", f"--size={a.size}",
               f"--steps={a.steps}"]
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode:
          print(f"{backbone:<10}{res:>5}{str(on):>7}  failed: {out.stderr.strip().splitlines()[-1]}")
          continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{backbone:<10}{res:>5}{str(on):>7}{r['batch']:>6}{r['ms_per_step']:>10.1f}"
              f"{r['images_per_s']:>10.1f}{r['compile_s']:>11.1f}{r['peak_mb']:>9.0f}", flush=True)


if __name__ == "__main__":
  main()
