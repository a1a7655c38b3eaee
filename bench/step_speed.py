"""Training-step speed: ms/step, images/s, compile time and peak memory of each method's loop step.

  python bench/step_speed.py [--rows gan,mixdl] [--steps 16] [--size paper|cpu] [--res 64,256]
  python bench/step_speed.py --rows gan,mixdl --size cpu --res 32 --dtype float32,bfloat16   # config.dtype
  python bench/step_speed.py --vs-peer [--peer-rows gan32,...] [--pairs 3]   # vs eager PyTorch (peer_compare.py)

Rows:
  gan     the `gan` baseline (DCGAN-style), batch 64, width 64, at 32 and 64 px.
  mixdl   StyleGAN2 and FastGAN backbones, each without and with MixDL, at --res (default 64 and 256 px).
          --size paper = config-f StyleGAN2 (batch 4) / FastGAN ngf 64 (batch 8); --size cpu = the light
          nets of the mixdl_*_cpu presets.
A step is what the training loop runs per iteration (every phase due at that step, donated state, each
phase jitted once), averaged over `steps` consecutive iterations after a warm-up that has run every phase
once (so MixDL's mixup, lazy R1 and path-length phases are compiled before timing; with MixDL half the
timed steps are mixup steps, and R1 / PL add their share when `steps` is a multiple of 16). Compile s is
the wall time of the warm-up. Every row runs in its own process, so peak MB (max RSS) is per row.
--dtype runs every row once per config.dtype (fsgen.nets.precision: float32 params, compute in the dtype).
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
NUM_IMAGES = 100  # the random uint8 training set each row draws its batches from


def _method(kind: str, backbone: str, res: int, size: str, mixdl_on: bool, batch: int, width: int, dtype: str):
  from fsgen.data.info import DataInfo

  if kind == "gan":
    from fsgen.methods import gan

    c = gan.default_config()
    c.data.resolution, c.data.channels, c.batch_size = res, 3, batch
    c.model.G.width = c.model.D.width = width
    c.dtype = dtype
    return gan.Method(c, DataInfo(NUM_IMAGES, (res, res, 3), 0, c.batch_size))
  from experiments.configs import _mixdl
  from fsgen.methods import mixdl

  c = mixdl.default_config(backbone)
  c.data.resolution, c.data.channels = res, 3
  if size == "cpu":
    _mixdl.light_model(c)
  c.dtype = dtype
  return mixdl.Method(_mixdl.set_mixdl(c, mixdl_on), DataInfo(NUM_IMAGES, (res, res, 3), 0, c.batch_size))


def run_row(
  kind: str, backbone: str, res: int, size: str, mixdl_on: bool, steps: int, batch: int, width: int, dtype="float32"
) -> dict:
  """Times one row in this process; returns its figures as a dict."""
  import jax
  import jax.numpy as jnp
  import numpy as np

  from fsgen import parallel
  from fsgen.train import PhaseRunner, initial_state

  method = _method(kind, backbone, res, size, mixdl_on, batch, width, dtype)
  mesh = parallel.make_mesh(1)
  repl = parallel.replicated(mesh)
  with jax.set_mesh(mesh):
    images = np.random.default_rng(0).integers(0, 255, (NUM_IMAGES, res, res, 3), np.uint8)
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
  n = method.config.batch_size
  return {
    "ms_per_step": 1000 * dt,
    "images_per_s": n / dt,
    "compile_s": compile_s,
    "batch": n,
    "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
  }


def parse_row(row: str) -> tuple[str, str, int, bool, str]:
  """`kind,backbone,res,mixdl[,dtype]` (the internal --row of one row's process) -> its fields."""
  fields = row.split(",")
  if len(fields) not in (4, 5):
    raise SystemExit(f"--row={row!r}: expected kind,backbone,res,mixdl[,dtype]")
  kind, backbone, res, on = fields[:4]
  return kind, backbone, int(res), on == "1", fields[4] if len(fields) == 5 else "float32"


def main():
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument("--rows", default="gan,mixdl")
  p.add_argument("--steps", type=int, default=16)
  p.add_argument("--size", default="paper", choices=("paper", "cpu"), help="mixdl rows: network size")
  p.add_argument("--res", default="64,256", help="mixdl rows: resolutions")
  p.add_argument("--backbones", default="stylegan2,fastgan", help="mixdl rows: backbones")
  p.add_argument("--batch", type=int, default=64, help="gan rows: batch")
  p.add_argument("--width", type=int, default=64, help="gan rows: base width")
  p.add_argument("--vs-peer", action="store_true", help="vs eager PyTorch, alternating (bench/peer_compare.py)")
  p.add_argument("--peer-rows", default="gan32,gan64,mixdl64,mixdl64_plain,maml2,maml1")
  p.add_argument("--pairs", type=int, default=3, help="--vs-peer: alternating pairs per row")
  p.add_argument("--peer-form", default="subpixel", choices=("subpixel", "convtranspose"), help="gan peer's G")
  p.add_argument("--dtype", default="float32", help="config.dtype of every row, comma-separated (float32,bfloat16)")
  p.add_argument("--row", default="", help=argparse.SUPPRESS)  # internal: kind,backbone,res,mixdl[,dtype]
  a = p.parse_args()
  if a.row:
    kind, backbone, res, on, dtype = parse_row(a.row)
    print(json.dumps(run_row(kind, backbone, res, a.size, on, a.steps, a.batch, a.width, dtype)))
    return
  if a.vs_peer:
    from bench import peer_compare

    peer_compare.main(a.peer_rows, a.pairs, a.steps, a.peer_form)
    return
  import jax

  print(f"JAX {jax.__version__} on {jax.devices()[0].device_kind}, {a.steps} timed steps, mixdl size {a.size}")
  print(
    f"{'method':<8}{'backbone':<10}{'px':>5}{'mixdl':>7}{'dtype':>10}{'batch':>6}{'ms/step':>10}{'images/s':>10}"
    f"{'compile s':>11}{'peak MB':>9}"
  )
  rows = []
  if "gan" in a.rows.split(","):
    rows += [("gan", "dcgan", res, False) for res in (32, 64)]
  if "mixdl" in a.rows.split(","):
    rows += [
      ("mixdl", b, int(res), on) for b in a.backbones.split(",") for res in a.res.split(",") for on in (False, True)
    ]
  rows = [(*row, dtype) for row in rows for dtype in a.dtype.split(",")]
  for kind, backbone, res, on, dtype in rows:
    cmd = [
      sys.executable,
      __file__,
      f"--row={kind},{backbone},{res},{int(on)},{dtype}",
      f"--size={a.size}",
      f"--steps={a.steps}",
      f"--batch={a.batch}",
      f"--width={a.width}",
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    head = f"{kind:<8}{backbone:<10}{res:>5}{('yes' if on else 'no') if kind == 'mixdl' else '-':>7}{dtype:>10}"
    if out.returncode:
      print(f"{head}  failed: {(out.stderr.strip().splitlines() or ['?'])[-1]}", flush=True)
      continue
    r = json.loads(out.stdout.strip().splitlines()[-1])
    print(
      f"{head}{r['batch']:>6}{r['ms_per_step']:>10.1f}{r['images_per_s']:>10.1f}{r['compile_s']:>11.1f}"
      f"{r['peak_mb']:>9.0f}",
      flush=True,
    )


if __name__ == "__main__":
  main()
