"""Times one eager-PyTorch peer row in this process and prints its figures as one JSON line.

  python bench/peers/run.py --peer gan --res 32 [--steps 16] [--batch 64] [--width 64] [--form subpixel]
  python bench/peers/run.py --peer maml --order 2

The same protocol as bench/step_speed.py: two warm-up steps (counted as `compile_s`, here only the
first-call cost of eager PyTorch), then `steps` consecutive steps, timed together and averaged.
"""

import argparse
import importlib
import json
import pathlib
import resource
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))


def main():
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument("--peer", required=True, help="module of bench/peers (gan, mixdl, maml)")
  p.add_argument("--steps", type=int, default=16)
  p.add_argument("--kw", default="{}", help="JSON keyword arguments of the peer's build()")
  a = p.parse_args()
  import torch  # pylint: disable=import-outside-toplevel

  build = importlib.import_module(f"bench.peers.{a.peer}").build
  step, sync = build(**json.loads(a.kw))
  t0 = time.perf_counter()
  for i in range(2):
    step(i)
  sync()
  warm = time.perf_counter() - t0
  t0 = time.perf_counter()
  for i in range(2, 2 + a.steps):
    step(i)
  sync()
  dt = (time.perf_counter() - t0) / a.steps
  out = {
    "ms_per_step": 1000 * dt,
    "compile_s": warm,
    "torch": torch.__version__,
    "threads": torch.get_num_threads(),
    "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
  }
  print(json.dumps(out))


if __name__ == "__main__":
  main()
