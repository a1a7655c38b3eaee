"""Per-phase speed of a preset at its real size: compile s and ms per call of each jitted phase.

  python bench/phase_speed.py --config=cola_fmnist_cpu:stage=1 [--calls 10]
  python bench/phase_speed.py --config=scola_fmnist_10spc_cpu        # COLA's Step II step (one-hot targets)
  python bench/phase_speed.py --config=mixdl_panda10_cpu
  python bench/phase_speed.py --config=scola_fmnist_20spc_cpu --classifier  # + the B.3 classifier step
  python bench/phase_speed.py --config=intae_omniglot_cpu --set model.upsample=subpixel  # one key changed

The preset's own data is loaded (as in training) and its state initialised on one device; each phase is
then called `calls` times back to back (state donated, as in the loop) after one compiling call. A
preset's step time is the sum over the phases due at that step (see each method's `phases()`), e.g. COLA
Step I alternates assignment and rotation epochs, MixDL runs its _mix phases every 2nd step. Presets
that start from another workdir (config.init_from, e.g. cola_*:stage=2) need that workdir to exist.
With --classifier (presets with config.classify, sCOLA) it also times one step of the small-sample
classifier (fsgen.metrics.small_sample: ResNet-20, batch config.classify.batch_size) on the real set and
on Mix (real + gen_per_class random images per class standing in for the generated pool).
"""

import argparse
import pathlib
import resource
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from experiments import configs  # noqa: E402
from fsgen import checkpoint, methods, parallel  # noqa: E402
from fsgen import data as fsdata  # noqa: E402
from fsgen.data.info import DataInfo  # noqa: E402
from fsgen.train import PhaseRunner, initial_state  # noqa: E402


def main():
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument("--config", required=True, help="preset NAME[:args] or path.py[:args]")
  p.add_argument("--calls", type=int, default=10)
  p.add_argument("--classifier", action="store_true", help="also time the B.3 classifier step (sCOLA presets)")
  p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override one config key")
  a = p.parse_args()
  c = configs.load(a.config)
  for item in a.set:
    set_key(c, item)
  dataset = fsdata.load(c.data)
  host = {"images": dataset.images}
  if dataset.labels is not None:
    host["labels"] = dataset.labels
  method = methods.build(c, DataInfo.of(dataset, c.batch_size))
  prior = checkpoint.restore_raw(c.init_from)[0] if c.get("init_from") else None
  mesh = parallel.make_mesh(1)
  repl = parallel.replicated(mesh)
  print(
    f"{a.config}: {len(dataset)} images {dataset.images.shape[1:]}, batch {c.batch_size}, "
    f"JAX {jax.__version__} on {jax.devices()[0].device_kind}"
  )
  # Wall ms per call, and process CPU ms per call (all threads; less sensitive to other jobs on the machine).
  print(f"{'phase':<12}{'compile s':>10}{'ms/call':>10}{'cpu ms':>10}")
  with jax.set_mesh(mesh):
    data = jax.device_put({k: jnp.asarray(v) for k, v in host.items()}, repl)
    state = jax.jit(lambda k, d: initial_state(method, k, d, prior), out_shardings=repl)(jax.random.key(0), data)
    runner = PhaseRunner(method.phases(), repl)
    key = jax.device_put(jax.random.key(1), repl)
    for phase, fn in zip(runner.phases, runner.jitted):
      t0 = time.perf_counter()
      state, _ = fn(state, data, key)
      jax.block_until_ready(state)
      compile_s = time.perf_counter() - t0
      t0, c0 = time.perf_counter(), time.process_time()
      for i in range(a.calls):
        state, _ = fn(state, data, jax.random.fold_in(key, i))
      jax.block_until_ready(state)
      wall, cpu = (time.perf_counter() - t0) / a.calls, (time.process_time() - c0) / a.calls
      print(f"{phase.name:<12}{compile_s:>10.1f}{1000 * wall:>10.1f}{1000 * cpu:>10.1f}", flush=True)
  if a.classifier:
    classifier_speed(c, dataset, a.calls)
  print(f"peak memory {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


def set_key(c, item: str) -> None:
  """'model.upsample=subpixel' -> c.model.upsample = 'subpixel', typed as the preset's value."""
  key, sep, value = item.partition("=")
  parent, _, leaf = key.rpartition(".")
  node = c
  for part in filter(None, parent.split(".")):
    node = node[part]
  if not sep or leaf not in node:
    raise SystemExit(f"--set {item!r}: expected KEY=VALUE with KEY an existing config key")
  old = node[leaf]
  node[leaf] = (value.lower() in ("1", "true")) if isinstance(old, bool) else type(old)(value)


def classifier_speed(c, dataset, calls: int) -> None:
  """ms per step of the B.3 classifier on the real set and on Mix (steps=1 then 1 + calls; the difference)."""
  import numpy as np  # pylint: disable=import-outside-toplevel

  from fsgen.metrics import classifier, small_sample  # pylint: disable=import-outside-toplevel
  from fsgen.nets.resnet import ResNet20  # pylint: disable=import-outside-toplevel

  cfg = c.classify
  classes = dataset.num_classes
  n = cfg.gen_per_class * classes
  pool = np.random.default_rng(0).uniform(-1, 1, (n,) + dataset.images.shape[1:]).astype(np.float32)
  fake = (pool, np.arange(n) % classes)
  real = (dataset.images, dataset.labels)
  pools = {"real": [real], "mix": [real, fake]}
  net, tx = ResNet20(num_classes=classes, width=cfg.width), small_sample.optimizer(cfg)
  aug = classifier.CropFlip(cfg.pad, cfg.fill, cfg.flip)
  for mode in ("real", "mix"):
    times = []
    # One net, optimizer and augmentation object: after the compiling call the others reuse the program.
    for steps in (1, 1, 1 + calls):
      t0, c0 = time.perf_counter(), time.process_time()
      clf = classifier.train(
        jax.random.key(0), net, pools[mode], steps=steps, batch_size=cfg.batch_size, tx=tx, augment=aug
      )
      jax.block_until_ready(clf.variables)
      times.append((time.perf_counter() - t0, time.process_time() - c0))
    wall, cpu = ((b - a) / calls for a, b in zip(*times[1:]))
    print(f"{'clf_' + mode:<12}{times[0][0]:>10.1f}{1000 * wall:>10.1f}{1000 * cpu:>10.1f}", flush=True)


if __name__ == "__main__":
  main()
