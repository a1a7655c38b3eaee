"""The one training loop: every method runs through `train_and_evaluate(config, workdir)`.

A method (fsgen.methods.base) supplies init, phases and sample. This loop jits each phase once (state
donated, replicated out-shardings), derives each phase's key as fold_in(fold_in(seed_key, step), phase),
keeps the EMA of the params the phase names, checks each phase's health inside the jitted code
(fsgen.health: non-finite values, parameter and gradient norm bounds), logs to metrics.jsonl and
TensorBoard, writes sample grids from a fixed latent, runs evaluators, checkpoints with Orbax and resumes
from the workdir after preemption.

Order of a run, so that a bad start leaves nothing behind: the loop keys are checked (fsgen.validate), the
workdir is locked (fsgen.workdir; a second process is refused), a workdir that holds checkpoints must hold
this config, the data is read, the method and evaluators are built and every phase is traced; only then
are config.json, subset.json, data_info.json and provenance.json written. A resume restores the newest
checkpoint that passes its checksums (fsgen.checkpoint) and drops the log rows an earlier process wrote
past it (fsgen.writer). SIGTERM saves a checkpoint at the next step boundary and raises `Preempted`
(fsgen.preemption).

Metric names in the logs: a phase's metric keeps its name (`D/adv`, `G/grad_norm`) unless another phase of
the method emits the same name; then the copy from each phase not named after the metric's network (its
first component) is logged as `<phase>/<metric>`: `D/grad_norm` of phase D and `D_r1/D/grad_norm` of
phase D_r1. The mapping is fixed before the first step (`TrainResult.log_names`), so no name changes in a
run. Evaluator results are `<eval name>/<metric>`.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import json
import pathlib
import time

import jax
import jax.numpy as jnp
from absl import logging
from tqdm.auto import tqdm

from fsgen import checkpoint, console, health, methods, parallel, preemption, provenance, schedule, validate
from fsgen import data as fsdata
from fsgen import metrics as fsmetrics
from fsgen import workdir as fsworkdir
from fsgen.data.info import DataInfo
from fsgen.grid import make_grid, save_grid
from fsgen.health import DivergedError, NonFiniteError, TrainingHealthError  # noqa: F401  (the loop's errors)
from fsgen.preemption import Preempted  # noqa: F401
from fsgen.update import ema_update
from fsgen.writer import MetricWriter

RESUMABLE_CHANGES = fsworkdir.RESUMABLE_CHANGES


@dataclasses.dataclass(frozen=True)
class Durations:
  """The loop's durations in steps, converted from steps or epochs (fsgen.schedule.steps)."""

  total: int
  log_every: int
  sample_every: int
  ckpt_every: int

  @classmethod
  def of(cls, config, info: DataInfo) -> Durations:
    return cls(*(schedule.steps(config, k, info) for k in ("total_steps", "log_every", "sample_every", "ckpt_every")))


@dataclasses.dataclass
class TrainResult:
  state: dict
  step: int
  trace_counts: dict[str, int]  # traces per phase (a retrace means a recompile)
  compile_counts: dict[str, int]  # compiled executables per phase (jit cache entries)
  seconds: float
  workdir: pathlib.Path
  log_names: dict[str, dict[str, str]] = dataclasses.field(default_factory=dict)  # phase -> metric -> logged


def log_names(emitted: dict[str, tuple[str, ...]]) -> dict[str, dict[str, str]]:
  """{phase: {metric: name in the logs}} for the metric names each phase emits (rule in the module doc)."""
  count = collections.Counter(m for names in emitted.values() for m in names)
  out = {
    phase: {m: m if count[m] == 1 or m.split("/")[0] == phase else f"{phase}/{m}" for m in names}
    for phase, names in emitted.items()
  }
  logged = [n for names in out.values() for n in names.values()]
  if len(set(logged)) < len(logged):  # two phases named after the same network prefix: name every copy
    out = {phase: {m: m if count[m] == 1 else f"{phase}/{m}" for m in names} for phase, names in emitted.items()}
  return out


class PhaseRunner:
  """Jits the phases of a method once each and runs them for one training step."""

  def __init__(self, phases, repl, guard: health.Guard | None = None):
    self.phases = phases
    self.guard = guard or health.Guard()
    self.trace_counts = {p.name: 0 for p in phases}
    self.jitted = [
      jax.jit(self._wrap(i, p), donate_argnums=0, out_shardings=(repl, repl)) for i, p in enumerate(phases)
    ]
    self.tick = jax.jit(lambda s: {**s, "step": s["step"] + 1}, donate_argnums=0, out_shardings=repl)

  def compile_counts(self) -> dict[str, int]:
    return {p.name: fn._cache_size() for p, fn in zip(self.phases, self.jitted)}  # pylint: disable=protected-access

  def emitted(self, state, data, key) -> dict[str, tuple[str, ...]]:
    """{phase: metric names}, from abstract evaluation; it shares the jit's trace, so nothing retraces."""
    return {p.name: tuple(jax.eval_shape(fn, state, data, key)[1]) for p, fn in zip(self.phases, self.jitted)}

  def _wrap(self, index, phase):

    def run(state, data, base_key):
      self.trace_counts[phase.name] += 1  # Python side effect: runs at trace time only.
      step = state["step"]
      key = jax.random.fold_in(jax.random.fold_in(base_key, step), index)
      new, metrics = phase.fn(state, data, key)
      if phase.ema:
        ema = dict(new["ema"])
        for net, decay in phase.ema.items():  # a float, or step -> decay (a ramp-up)
          ema[net] = ema_update(ema[net], new["params"][net], decay(step) if callable(decay) else decay)
        new = {**new, "ema": ema}
      return {**new, "health": health.record(self.guard, state["health"], step, index, metrics, new["params"])}, metrics

    return run

  def step(self, state, data, key, step: int, last_metrics: dict):
    for phase, fn in zip(self.phases, self.jitted):
      if phase.runs_at(step):
        state, last_metrics[phase.name] = fn(state, data, key)
    return self.tick(state)


def initial_state(method, key, data, prior=None) -> dict:
  """The method's state plus the loop's leaves: step 0 and a clean health record."""
  return {**method.init(key, data, prior), "step": jnp.zeros((), jnp.int32), "health": health.initial()}


def train_and_evaluate(config, workdir: str | pathlib.Path) -> TrainResult:
  """Trains `config.method` on `config.data`, writing everything under `workdir`; resumes if possible."""
  t0 = time.time()
  validate.loop_config(config)
  workdir = pathlib.Path(workdir)
  parallel.maybe_initialize_distributed(config.get("distributed", False))
  with contextlib.ExitStack() as stack:
    if parallel.is_primary():
      stack.enter_context(fsworkdir.Lock(workdir))
    stack.enter_context(console.log_file(workdir, jax.process_index()))
    return _train(config, workdir, stack, t0)


def _train(config, workdir: pathlib.Path, stack: contextlib.ExitStack, t0: float) -> TrainResult:
  primary = parallel.is_primary()
  config_dict = checkpoint.config_to_dict(config)
  console.FILE.info("config:\n%s", json.dumps(config_dict, indent=1))
  mesh = parallel.make_mesh(config.get("devices", 0))
  repl = parallel.replicated(mesh)
  parallel.check_batch_size(config.batch_size, mesh)
  logging.info("devices: %s", mesh.devices.tolist())
  ckpts = checkpoint.Checkpoints(workdir / "checkpoints", keep=config.get("keep_ckpts", 3))
  stack.callback(ckpts.close)
  if ckpts.latest_step() is not None:  # a workdir without checkpoints has nothing to protect
    fsworkdir.check_config(workdir, config_dict)

  # ---- Data, method, evaluators: every check that can fail on user input, before writing anything --
  dataset = fsdata.load(config.data)
  logging.info("data: %d images %s from %s", len(dataset), dataset.images.shape[1:], config.data.source)
  info = DataInfo.of(dataset, config.batch_size)
  durations = Durations.of(config, info)
  host_data = {"images": dataset.images}
  if dataset.labels is not None:
    host_data["labels"] = dataset.labels
  method = methods.build(config, info)
  phases = method.phases()
  evaluators = fsmetrics.build_all(config.get("evals", {}), dataset, info)
  eval_samplers = fsmetrics.Samplers(method, evaluators)  # refuses here an evaluator the method can't feed
  prior = checkpoint.restore_raw(config.init_from)[0] if config.get("init_from") else None

  guard = health.Guard.of(config)
  with jax.set_mesh(mesh):
    data = jax.device_put(host_data, repl)  # host arrays: the same on every process
    # Keys made inside a jit, so that they are replicated over every process's devices.
    split = lambda: tuple(jax.random.split(jax.random.key(config.seed), 4))
    init_key, run_key, sample_key, eval_key = jax.jit(split, out_shardings=repl)()
    state = jax.jit(lambda k, d: initial_state(method, k, d, prior), out_shardings=repl)(init_key, data)
    restored, start = ckpts.restore_intact(state)
    if restored is None:
      start = 0
    else:
      state = restored
      logging.info("resumed from %s at step %d", ckpts.directory, start)
    runner = PhaseRunner(phases, repl, guard)
    names = log_names(runner.emitted(state, data, run_key))  # traces every phase: a config error shows here
    sample_fn = jax.jit(method.sample, static_argnums=2, out_shardings=repl)
    jax.eval_shape(sample_fn, method.sampling_params(state), sample_key, config.get("num_samples", 64))
    if primary:  # only now can training start: record what it runs on
      fsworkdir.write_config(workdir, config_dict)
      dataset.write_record(workdir)
      info.write(workdir / "data_info.json")
      provenance.record(workdir, mesh)
    writer = MetricWriter(workdir, resume_step=start, enabled=primary)
    stack.callback(writer.close)
    total = durations.total
    if start >= total:
      logging.info("workdir %s already holds step %d (total_steps=%d): nothing to train", workdir, start, total)
    phase_names = [p.name for p in phases]
    net_names = sorted(state["params"])

    def check(state):
      last = ckpts.latest_step()
      kept = f"last good checkpoint: step {last} in {ckpts.directory}" if last is not None else "no checkpoint yet"
      health.raise_if_unhealthy(jax.device_get(state["health"]), phase_names, net_names, guard, kept)

    def write_samples(step):
      images = sample_fn(method.sampling_params(state), sample_key, config.get("num_samples", 64))
      if primary:
        save_grid(images, workdir / "samples" / f"step_{step:07d}.png")
        writer.image(step, "samples", make_grid(images))

    bar = tqdm(
      total=total,
      initial=min(start, total),
      unit="step",
      dynamic_ncols=True,
      disable=not (config.get("progress", True) and primary),
      desc=config.method,
    )
    stack.callback(bar.close)
    watch = stack.enter_context(preemption.Watch())
    last_metrics: dict = {}
    for step in range(start, total):
      state = runner.step(state, data, run_key, step, last_metrics)
      done = step + 1
      bar.update(1)
      stop = watch.reached(done)
      if done % durations.log_every == 0 or done == total:
        check(state)
        flat = {names[p][k]: float(v) for p, m in jax.device_get(last_metrics).items() for k, v in m.items()}
        writer.scalars(done, flat)
        bar.set_postfix({k: f"{v:.3g}" for k, v in flat.items() if not k.endswith("grad_norm")}, refresh=False)
      if done % durations.sample_every == 0 or done == total:
        write_samples(done)
      due = {name: ev for name, ev in evaluators.items() if done % ev.every == 0 or done == total}
      if due:
        key = jax.random.fold_in(eval_key, done)
        results = fsmetrics.evaluate(eval_samplers, due, method.sampling_params(state), key)
        writer.scalars(done, {f"{name}/{k}": v for name, values in results.items() for k, v in values.items()})
      if done % durations.ckpt_every == 0 or done == total or stop:
        check(state)
        ckpts.save(done, state, config)
      if stop:
        ckpts.wait()
        raise preemption.Preempted(
          f"stopped by SIGTERM after step {done}: checkpoint saved in {ckpts.directory}; "
          "run the same command again to resume"
        )
    ckpts.wait()
    if start < total or not (workdir / "export").exists():
      checkpoint.export(workdir / "export", method.sampling_params(state), config, info)
  step = int(jax.device_get(state["step"]))
  counts = runner.compile_counts()
  return TrainResult(state, step, dict(runner.trace_counts), counts, time.time() - t0, workdir, names)
