"""Adaptive IMLE's exact nearest-neighbour search on the method's own path, and its share of a re-match round.

  python bench/nn_search.py [--preset adaimle_panda100_cpu] [--pools 1000,10000] [--repeat 3]

1. Search alone: the n = 100 training features against pools of M features of the preset's size D, as the
   method runs it (fsgen.methods.imle_pool): one matrix product over the whole pool's held features
   (fsgen.neighbours.nearest, features passed as arguments, never closed over), and, for comparison, the
   chunked scan at the preset's chunk (fsgen.neighbours.nearest_chunked over the same features given as a
   [M / chunk, chunk, D] scan input: no slicing copies). FLOPs = 2 n M D.
2. One re-match round of the preset, jitted as the method jits it and timed after compilation: the
   per-epoch distance pass, the pool's generation + features, the search over the held features, and the
   whole "rematch" phase with a new pool (every example re-matched, as at epoch 0); one G step and the
   training epoch it makes (n // batch steps).
Times are the best of --repeat runs; say what else ran on the machine when quoting them.
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
from fsgen.neighbours import nearest, nearest_chunked, sq_norms  # noqa: E402


def _time(fn, *args, repeat=3):
  jax.block_until_ready(fn(*args))  # compile + warm up
  best = np.inf
  for _ in range(repeat):
    t = time.perf_counter()
    jax.block_until_ready(fn(*args))
    best = min(best, time.perf_counter() - t)
  return best


@jax.jit
def _one_product(q, keys, keys_sq):
  return nearest(q, keys, keys_sq)


def _scan(chunk: int):
  @jax.jit
  def search(q, blocks):
    m = blocks.shape[0] * blocks.shape[1]
    return nearest_chunked(q, lambda s: blocks[s // chunk], m, chunk)

  return search


def search_table(n: int, dim: int, pools: list[int], chunk: int, repeat: int) -> None:
  key = jax.random.key(0)
  queries = jax.random.normal(key, (n, dim))
  print(f"search alone: n={n} queries, D={dim:,}, scan chunk {chunk} (best of {repeat}, after compilation)")
  print("| pool M | one product | GFLOP/s | chunked scan | GFLOP/s | scan / product |")
  print("|---|---|---|---|---|---|")
  for m in pools:
    m = -(-m // chunk) * chunk
    keys = jax.random.normal(jax.random.fold_in(key, m), (m, dim))
    t_one = _time(_one_product, queries, keys, sq_norms(keys), repeat=repeat)
    t_scan = _time(_scan(chunk), queries, keys.reshape(m // chunk, chunk, dim), repeat=repeat)
    flops = 2.0 * n * m * dim
    print(
      f"| {m:,} | {t_one * 1e3:.1f} ms | {flops / t_one / 1e9:.0f} | {t_scan * 1e3:.1f} ms | "
      f"{flops / t_scan / 1e9:.0f} | {t_scan / t_one:.2f}x |"
    )
    del keys


def round_share(spec: str, repeat: int) -> None:
  c = configs.load(spec)
  images = jnp.asarray(fsdata.load(c.data).images)
  data = {"images": images}
  info = DataInfo.for_arrays(data, c.batch_size)
  method = methods.build(c, info)
  state = {**jax.jit(method.init)(jax.random.key(0), data), "step": jnp.zeros((), jnp.int32)}
  phases = {p.name: jax.jit(p.fn) for p in method.phases()}
  w, g, ex = state.get("frozen", {}).get("distance"), state["params"]["G"], state["extra"]
  pool = method.pool
  pool_key = jax.random.key(2)
  queries = method._project(method._train_features(w, ex, images))

  t_dist = _time(jax.jit(lambda w, g, ex: method._distances(w, g, ex["z"], ex["noise"], images, ex)), w, g, ex)
  t_pool = _time(jax.jit(pool.features), w, g, pool_key, repeat=repeat)
  held = jax.jit(pool.features)(w, g, pool_key)
  t_search = _time(jax.jit(lambda q, f, s: nearest(q, f, s, pool.valid())), queries, *held, repeat=repeat)
  t_round = _time(phases["rematch"], state, data, jax.random.key(1), repeat=repeat)  # epoch 0: new pool
  t_step = _time(phases["G"], state, data, jax.random.key(3), repeat=max(repeat, 5))
  epoch = info.full_batches * t_step
  print(
    f"\n{spec}: n={info.num_images}, pool M={pool.size:,} (chunk {pool.chunk}, held: {method.hold_pool}), "
    f"{c.data.resolution} px, features {c.imle.features} at {c.imle.get('lpips_size', 0) or c.data.resolution} px "
    f"(D={method.dist.dim:,}), batch {c.batch_size}"
  )
  print(f"  G step {t_step * 1e3:.0f} ms -> training epoch ({info.full_batches} steps) {epoch:.2f} s")
  print(f"  re-match round with a new pool {t_round:.2f} s = {t_round / epoch:.1f} training epochs, of which")
  print(f"    distance pass (n images)         {t_dist:.2f} s ({100 * t_dist / t_round:.0f}%)")
  print(
    f"    pool generation + features       {t_pool:.2f} s ({100 * t_pool / t_round:.0f}%; "
    f"{t_pool / pool.size * 1e3:.2f} ms per sample)"
  )
  print(f"    search over the held features    {t_search * 1e3:.1f} ms ({100 * t_search / t_round:.1f}%)")


def main():
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--preset", default="adaimle_panda100_cpu")
  ap.add_argument("--pools", default="1000,10000")
  ap.add_argument("--n", type=int, default=100)
  ap.add_argument("--repeat", type=int, default=3)
  args = ap.parse_args()
  c = configs.load(args.preset)
  info = DataInfo(args.n, (c.data.resolution, c.data.resolution, c.data.channels), 0, c.batch_size)
  dim = methods.build(c, info).pool.dim
  print(f"JAX {jax.__version__}, devices {jax.devices()}")
  search_table(args.n, dim, [int(p) for p in args.pools.split(",")], c.imle.chunk, args.repeat)
  round_share(args.preset, args.repeat)


if __name__ == "__main__":
  main()
