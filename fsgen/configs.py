"""The config schema every method shares: the loop's keys (`loop_defaults`) and the data keys
(`data_defaults`), with their defaults. Each method's `default_config()` starts from these.

Presets (experiments/configs/NAME.py) and their lookup live in experiments/, never in the library.
"""

from __future__ import annotations

import ml_collections


def loop_defaults() -> ml_collections.ConfigDict:
  """The loop's keys with their defaults (see fsgen.train)."""
  return ml_collections.ConfigDict(
    dict(
      seed=0,
      total_steps=10_000,
      total_epochs=0,  # > 0: the run's length in epochs of the training set (then total_steps=0)
      batch_size=32,
      log_every=50,
      log_every_epochs=0,  # each *_every has an *_every_epochs form (fsgen.schedule.steps)
      sample_every=1000,
      sample_every_epochs=0,
      num_samples=64,
      ckpt_every=1000,
      ckpt_every_epochs=0,
      keep_ckpts=3,
      devices=0,  # 0 = all local devices (and all hosts when distributed)
      distributed=False,  # call jax.distributed.initialize() for multi-host runs
      init_from="",  # workdir of an earlier stage whose state is handed to method.init
      progress=True,
      dtype="float32",  # compute dtype of every network ("bfloat16": float32 params, bf16 compute)
      evals={},  # NAME -> {type, every, ...}; an entry set to None/{} is off (--config.evals.NAME=None)
      max_param_norm=1e6,  # divergence guard: stop if a network's parameter norm exceeds it (0 = off)
      max_grad_norm=0.0,  # stop if a */grad_norm metric exceeds it (0 = off)
    )
  )


def data_defaults(**overrides) -> ml_collections.ConfigDict:
  """The keys of config.data (see fsgen.data.load)."""
  d = dict(
    source="builtin:digits",
    resolution=32,
    channels=3,
    resize=True,
    shots=0,
    per_class=False,
    subset_seed=0,
    labels=False,
    tfds_data_dir="",
    tfds_manual_dir="",
  )
  d.update(overrides)
  return ml_collections.ConfigDict(d)
