"""Adaptive IMLE's exact nearest-neighbour search: time, GFLOP/s against a plain matmul, share of an epoch.

  python bench/nn_search.py [--preset adaimle_panda100_cpu] [--pools 1000,10000,100000]

1. Search alone (fsgen.neighbours.nearest_chunked): the n = 100 training features against pools of 1k,
   10k and 100k features of the preset's size D (LPIPS-AlexNet at 32 px + pixels: 8,832), streamed in
   chunks of the preset's size from a fixed buffer (so generation is excluded). FLOPs = 2 n M D; the
   reference is one plain [n, D] x [D, M] matmul (or, when [M, D] exceeds 1 GiB, the chunk-sized matmul
   times the number of chunks).
2. The whole re-match round of the preset (pool generation + features + search, the training phase) and
   one training epoch (n / batch G steps), both jitted and timed after compilation: the search's share.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from experiments import configs  # noqa: E402
from fsgen import data as fsdata  # noqa: E402
from fsgen import methods  # noqa: E402
from fsgen.data.info import DataInfo  # noqa: E402
from fsgen.neighbours import nearest_chunked  # noqa: E402


def _time(fn, *args, repeat=3):
  jax.block_until_ready(fn(*args))  # compile + warm up
  best = np.inf
  for _ in range(repeat):
    t = time.perf_counter()
    jax.block_until_ready(fn(*args))
    best = min(best, time.perf_counter() - t)
  return best


def search_table(n: int, dim: int, pools: list[int], chunk: int) -> None:
  key = jax.random.key(0)
  queries = jax.random.normal(key, (n, dim))
  buf_rows = 4096
  buffer = jax.random.normal(jax.random.fold_in(key, 1), (buf_rows, dim))
  print(f"search: n={n} queries, D={dim}, chunk={chunk} (time is the best of 3, after compilation)")
  print("| pool M | search | GFLOP/s | plain matmul | GFLOP/s | search / matmul |")
  print("|---|---|---|---|---|---|")
  for m in pools:

    @jax.jit
    def search(q):
      make = lambda s: jax.lax.dynamic_slice_in_dim(buffer, s % (buf_rows - chunk + 1), chunk)
      return nearest_chunked(q, make, m, chunk)

    t_search = _time(search, queries)
    flops = 2.0 * n * m * dim
    if m * dim * 4 <= 1 << 30:
      keys = jax.random.normal(jax.random.fold_in(key, 2), (m, dim))
      t_mm = _time(jax.jit(lambda q, k: q @ k.T), queries, keys)
      del keys
    else:  # the same FLOPs as chunk-sized matmuls
      keys = buffer[:chunk]
      t_mm = _time(jax.jit(lambda q, k: q @ k.T), queries, keys) * (m / chunk)
    print(
      f"| {m:,} | {t_search * 1e3:.1f} ms | {flops / t_search / 1e9:.1f} | {t_mm * 1e3:.1f} ms | "
      f"{flops / t_mm / 1e9:.1f} | {t_search / t_mm:.2f}x |"
    )


def epoch_share(preset: str, data_root: str) -> None:
  c = configs.load(f"{preset}:data_root={data_root}")
  images = jnp.asarray(fsdata.load(c.data).images)
  data = {"images": images}
  method = methods.build(c, DataInfo.for_arrays(data, c.batch_size))
  state = {**jax.jit(method.init)(jax.random.key(0), data), "step": jnp.zeros((), jnp.int32)}
  rematch, g_step = (jax.jit(p.fn) for p in method.phases())
  n, spe = images.shape[0], images.shape[0] // c.batch_size
  g, w = state["params"]["G"], state.get("frozen", {}).get("distance")
  pool = int(c.imle.pool_factor * n)
  t_round = _time(rematch, state, data, jax.random.key(1), repeat=2)  # step 0: everyone re-matched
  t_search_only = _time(jax.jit(lambda g, k: method._search(w, g, k, images)), g, jax.random.key(2), repeat=2)
  t_step = _time(g_step, state, data, jax.random.key(3), repeat=5)
  t_dist = _time(
    jax.jit(lambda g, ex: method._distances(w, g, ex["z"], ex["noise"], images)), g, state["extra"], repeat=3
  )
  epoch = spe * t_step
  print(
    f"\n{preset}: n={n}, pool M={pool} ({c.imle.pool_factor} x n), {spe} steps/epoch at batch "
    f"{c.batch_size}, {c.data.resolution} px, features {c.imle.features} (D={method.dist.dim})"
  )
  print(f"  G step {t_step * 1e3:.0f} ms -> training epoch {epoch:.2f} s; per-epoch distance pass {t_dist:.2f} s")
  print(
    f"  re-match round (distance pass + pool generation + search + update) {t_round:.2f} s "
    f"= {t_round / epoch:.1f}x a training epoch"
  )
  print(
    f"  of which pool generation + features + exact search {t_search_only:.2f} s "
    f"({t_search_only / pool * 1e3:.2f} ms per pool sample)"
  )


def main():
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--preset", default="adaimle_panda100_cpu")
  ap.add_argument("--data_root", default=str(pathlib.Path(__file__).resolve().parents[2] / "shared" / "data"))
  ap.add_argument("--pools", default="1000,10000,100000")
  ap.add_argument("--n", type=int, default=100)
  args = ap.parse_args()
  c = configs.load(f"{args.preset}:data_root={args.data_root}")
  dim = methods.build(c, DataInfo(100, (c.data.resolution,) * 2 + (3,), 0, c.batch_size)).dist.dim
  print(f"JAX {jax.__version__}, devices {jax.devices()}")
  search_table(args.n, dim, [int(p) for p in args.pools.split(",")], c.imle.chunk)
  epoch_share(args.preset, args.data_root)


if __name__ == "__main__":
  main()
