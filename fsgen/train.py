"""The one training loop: every method runs through `train_and_evaluate(config, workdir)`.

A method (fsgen.methods.base) supplies init, phases and sample. This loop jits each phase once (state
donated, replicated out-shardings), derives each phase's key as fold_in(fold_in(seed_key, step), phase),
keeps the EMA of the params the phase names, records the first non-finite metric (step and phase) inside
the jitted code, logs to metrics.jsonl and TensorBoard, writes sample grids from a fixed latent,
runs evaluators, checkpoints with Orbax and resumes from the workdir after preemption.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import time

import jax
import jax.numpy as jnp
from absl import logging
from tqdm.auto import tqdm

from fsgen import checkpoint, methods, parallel, schedule
from fsgen import data as fsdata
from fsgen import metrics as fsmetrics
from fsgen.data.info import DataInfo
from fsgen.grid import make_grid, save_grid
from fsgen.update import ema_update
from fsgen.writer import MetricWriter

# Config keys that may change between a run and its resumption (everything else must match).
RESUMABLE_CHANGES = (
  "total_steps",
  "total_epochs",
  "log_every",
  "log_every_epochs",
  "sample_every",
  "sample_every_epochs",
  "ckpt_every",
  "ckpt_every_epochs",
  "keep_ckpts",
  "progress",
  "evals",
  "devices",
  "distributed",
)


@dataclasses.dataclass(frozen=True)
class Durations:
  """The loop's durations in steps, converted from steps or epochs (fsgen.schedule.steps)."""

  total: int
  log_every: int
  sample_every: int
  ckpt_every: int

  @classmethod
  def of(cls, config, info: DataInfo) -> Durations:
    return cls(
      schedule.steps(config, "total_steps", info, minimum=0),
      *(schedule.steps(config, k, info) for k in ("log_every", "sample_every", "ckpt_every")),
    )


class NonFiniteError(FloatingPointError):
  """A phase produced a NaN/Inf metric or parameter; the message names the step and phase."""


@dataclasses.dataclass
class TrainResult:
  state: dict
  step: int
  trace_counts: dict[str, int]  # traces per phase (a retrace means a recompile)
  compile_counts: dict[str, int]  # compiled executables per phase (jit cache entries)
  seconds: float
  workdir: pathlib.Path


def _check_workdir_config(workdir: pathlib.Path, config_dict: dict) -> None:
  """Refuses to resume a workdir that was trained with a different config (nothing gets overwritten)."""
  path = workdir / "config.json"
  if not path.exists():
    return
  old = json.loads(path.read_text())
  differ = sorted(
    k for k in set(old) | set(config_dict) if k not in RESUMABLE_CHANGES and old.get(k) != config_dict.get(k)
  )
  if differ:
    raise ValueError(
      f"workdir {workdir} holds a run with a different config (keys: {', '.join(differ)}); "
      f"use another --workdir or the same config"
    )


class PhaseRunner:
  """Jits the phases of a method once each and runs them for one training step."""

  def __init__(self, phases, repl):
    self.phases = phases
    self.trace_counts = {p.name: 0 for p in phases}
    self.jitted = [
      jax.jit(self._wrap(i, p), donate_argnums=0, out_shardings=(repl, repl)) for i, p in enumerate(phases)
    ]
    self.tick = jax.jit(lambda s: {**s, "step": s["step"] + 1}, donate_argnums=0, out_shardings=repl)

  def compile_counts(self) -> dict[str, int]:
    return {p.name: fn._cache_size() for p, fn in zip(self.phases, self.jitted)}  # pylint: disable=protected-access

  def _wrap(self, index, phase):

    def run(state, data, base_key):
      self.trace_counts[phase.name] += 1  # Python side effect: runs at trace time only.
      step = state["step"]
      key = jax.random.fold_in(jax.random.fold_in(base_key, step), index)
      new, metrics = phase.fn(state, data, key)
      if phase.ema:
        ema = dict(new["ema"])
        for net, decay in phase.ema.items():
          ema[net] = ema_update(ema[net], new["params"][net], decay)
        new = {**new, "ema": ema}
      # Health: every metric and every trained parameter finite (one cheap reduction per leaf).
      leaves = list(metrics.values()) + jax.tree.leaves(new["params"])
      finite = jnp.all(jnp.stack([jnp.all(jnp.isfinite(v)) for v in leaves]))
      first = (~finite) & (state["health"]["bad_step"] < 0)
      health = {
        "bad_step": jnp.where(first, step, state["health"]["bad_step"]),
        "bad_phase": jnp.where(first, index, state["health"]["bad_phase"]),
      }
      return {**new, "health": health}, metrics

    return run

  def step(self, state, data, key, step: int, last_metrics: dict):
    for phase, fn in zip(self.phases, self.jitted):
      if phase.runs_at(step):
        state, last_metrics[phase.name] = fn(state, data, key)
    return self.tick(state)


def initial_state(method, key, data, prior=None) -> dict:
  """The method's state plus the loop's leaves: step 0 and a clean health record."""
  return {
    **method.init(key, data, prior),
    "step": jnp.zeros((), jnp.int32),
    "health": {"bad_step": -jnp.ones((), jnp.int32), "bad_phase": -jnp.ones((), jnp.int32)},
  }


def _raise_if_unhealthy(state, phases, ckpts) -> None:
  bad_step = int(jax.device_get(state["health"]["bad_step"]))
  if bad_step >= 0:
    phase = phases[int(jax.device_get(state["health"]["bad_phase"]))].name
    last = ckpts.latest_step()
    kept = f"last good checkpoint: step {last} in {ckpts.directory}" if last is not None else "no checkpoint yet"
    raise NonFiniteError(f"non-finite loss or parameters at step {bad_step} in phase {phase!r}; {kept}")


def train_and_evaluate(config, workdir: str | pathlib.Path) -> TrainResult:
  """Trains `config.method` on `config.data`, writing everything under `workdir`; resumes if possible."""
  t0 = time.time()
  workdir = pathlib.Path(workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  config_dict = checkpoint.config_to_dict(config)
  _check_workdir_config(workdir, config_dict)
  (workdir / "config.json").write_text(json.dumps(config_dict, indent=1))

  # ---- Mesh ---------------------------------------------------------------------------------------
  parallel.maybe_initialize_distributed(config.get("distributed", False))
  mesh = parallel.make_mesh(config.get("devices", 0))
  repl = parallel.replicated(mesh)
  parallel.check_batch_size(config.batch_size, mesh)
  logging.info("devices: %s", mesh.devices.tolist())

  # ---- Data (whole set on device, replicated) -----------------------------------------------------
  dataset = fsdata.load(config.data)
  dataset.write_record(workdir)
  logging.info("data: %d images %s from %s", len(dataset), dataset.images.shape[1:], config.data.source)
  info = DataInfo.of(dataset, config.batch_size)
  info.write(workdir / "data_info.json")
  durations = Durations.of(config, info)
  host_data = {"images": dataset.images}
  if dataset.labels is not None:
    host_data["labels"] = dataset.labels

  # ---- Method, state, checkpoints -----------------------------------------------------------------
  method = methods.build(config, info)
  phases = method.phases()
  evaluators = fsmetrics.build_all(config.get("evals", {}), dataset, info)
  eval_samplers = fsmetrics.Samplers(method, evaluators)  # refuses here an evaluator the method can't feed
  seed_key = jax.random.key(config.seed)
  init_key, run_key, sample_key, eval_key = jax.random.split(seed_key, 4)
  prior = checkpoint.restore_raw(config.init_from)[0] if config.get("init_from") else None
  ckpts = checkpoint.Checkpoints(workdir / "checkpoints", keep=config.get("keep_ckpts", 3))
  writer = MetricWriter(workdir)

  with jax.set_mesh(mesh):
    data = jax.device_put(host_data, repl)
    run_key = jax.device_put(run_key, repl)

    state = jax.jit(lambda k, d: initial_state(method, k, d, prior), out_shardings=repl)(init_key, data)
    start = 0
    if ckpts.latest_step() is not None:
      state = ckpts.restore(state)
      start = int(jax.device_get(state["step"]))
      logging.info("resumed from %s at step %d", ckpts.directory, start)

    runner = PhaseRunner(phases, repl)
    sample_fn = jax.jit(method.sample, static_argnums=2)
    total = durations.total
    last_metrics: dict = {}

    def write_samples(step):
      images = sample_fn(method.sampling_params(state), sample_key, config.get("num_samples", 64))
      grid_path = save_grid(images, workdir / "samples" / f"step_{step:07d}.png")
      writer.image(step, "samples", make_grid(images))
      return grid_path

    bar = tqdm(
      total=total,
      initial=start,
      unit="step",
      dynamic_ncols=True,
      disable=not config.get("progress", True),
      desc=config.method,
    )
    try:
      for step in range(start, total):
        state = runner.step(state, data, run_key, step, last_metrics)
        done = step + 1
        bar.update(1)
        if done % durations.log_every == 0 or done == total:
          _raise_if_unhealthy(state, phases, ckpts)
          flat = {k: float(v) for m in jax.device_get(last_metrics).values() for k, v in m.items()}
          writer.scalars(done, flat)
          bar.set_postfix({k: f"{v:.3g}" for k, v in flat.items() if not k.endswith("grad_norm")}, refresh=False)
        if done % durations.sample_every == 0 or done == total:
          write_samples(done)
        due = {name: ev for name, ev in evaluators.items() if done % ev.every == 0 or done == total}
        if due:
          results = fsmetrics.evaluate(
            eval_samplers, due, method.sampling_params(state), jax.random.fold_in(eval_key, done)
          )
          writer.scalars(done, {f"{name}/{k}": v for name, values in results.items() for k, v in values.items()})
        if done % durations.ckpt_every == 0 or done == total:
          _raise_if_unhealthy(state, phases, ckpts)
          ckpts.save(done, state, config)
    finally:
      bar.close()
      ckpts.wait()
      writer.close()

    if start < total or not (workdir / "export").exists():
      checkpoint.export(workdir / "export", method.sampling_params(state), config, info)
  ckpts.close()
  return TrainResult(state, total, dict(runner.trace_counts), runner.compile_counts(), time.time() - t0, workdir)
