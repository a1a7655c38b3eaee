"""The bodies the mixdl_* presets share (not a preset: the name starts with `_`).

  paper_preset(source, arg, mixdl=True)  the 10-shot paper presets (config-f StyleGAN2, 256 px, 120k steps)
  cpu_preset(folder, arg, mixdl=True)    the CPU presets (light StyleGAN2, 32 px, 10 shots, CPU_STEPS)
  light_model(c)                         the light nets of the CPU presets (also bench/step_speed.py)
  reduce_for_test(c)                     the reduced form every preset's `test` argument gives
  set_mixdl(c, enabled)                  both distance terms (and so the mixup steps) on or off

`mixdl=False` gives a preset's `_nomixdl` twin: the same backbone, data, seeds and schedule with both
distance terms off (paper Table 5, row "none"). The schema and the paper's defaults are
`fsgen.methods.mixdl.default_config`.
"""

from __future__ import annotations

import ml_collections

from experiments.configs import parse_arg, reduced_schedule
from fsgen import configs
from fsgen.methods import mixdl


def set_mixdl(c: ml_collections.ConfigDict, enabled: bool) -> ml_collections.ConfigDict:
  """Turns both distance terms (and so the mixup steps) on or off: the `_nomixdl` twins."""
  c.mixdl.g_dist = c.mixdl.d_dist = enabled
  return c


def light_model(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """The light nets of the CPU presets (chosen with bench/step_speed.py --rows=mixdl --size=cpu)."""
  if c.model.backbone == "stylegan2":
    c.model.G.update(z_dim=128, w_dim=128, n_mlp=4, channel_base=1024, channel_max=128)
    c.model.D.update(channel_base=1024, channel_max=128, proj_dim=0)
  else:
    c.model.G.update(z_dim=128, width=8)
    c.model.D.update(width=8, proj_dim=128)
  return c


def paper_preset(default_source: str, arg=None, *, mixdl_on: bool = True) -> ml_collections.ConfigDict:
  """The 10-shot paper presets' body (mixdl_ffhq10, _anime10, _dog10, _sketches10): config-f StyleGAN2 at
  256 px, the official defaults, 120k steps, FID (5k samples) and LPIPS (1k) every 10k steps; `arg` takes
  source=..., shots=N and test (the reduced form)."""
  args = parse_arg(arg, test=False, source=default_source, shots=10)
  c = mixdl.default_config("stylegan2")
  c.data = configs.data_defaults(source=args.source, resolution=256, channels=3, shots=args.shots)
  c.total_steps = 120_000
  c.log_every, c.sample_every, c.ckpt_every = 100, 5000, 10_000
  c.evals = dict(fid=dict(type="fid", every=10_000, n=5000), lpips=dict(type="lpips", every=10_000, n=1000))
  set_mixdl(c, mixdl_on)
  return reduce_for_test(c) if args.test else c


CPU_STEPS = 10_000  # issue 12: the plain twin draws recognisable pandas and anime faces (sample grids)


def cpu_preset(folder, arg=None, *, mixdl_on: bool = True) -> ml_collections.ConfigDict:
  """The mixdl_*_cpu presets' body: light StyleGAN2, 32 px, 10 shots of the image folder `folder`,
  DiffAugment, the paper's EMA (0.5 ** (32 / 10k) per step), CPU_STEPS steps; `arg` takes steps=N,
  resolution=R and test (the reduced form)."""
  args = parse_arg(arg, test=False, steps=CPU_STEPS, resolution=32)
  c = mixdl.default_config("stylegan2")
  c.data = configs.data_defaults(
    source=f"folder:{folder}", resolution=args.resolution, channels=3, shots=10, subset_seed=0
  )
  light_model(c)
  c.mixdl.update(diffaug="color,translation,cutout")
  c.total_steps = args.steps
  c.log_every, c.sample_every, c.ckpt_every = 100, 1000, 1000
  c.evals = dict(nn=dict(type="nn", every=args.steps, n=256))
  set_mixdl(c, mixdl_on)
  return reduce_for_test(c) if args.test else c


def reduce_for_test(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """The reduced form every preset's `test` arg gives: the same backbone and phases at width 8, 32 px,
  batch 4, on scikit-learn's digits (no download), 2 steps, every schedule hit at least once."""
  c.data = configs.data_defaults(source="builtin:digits", resolution=32, channels=3, shots=10)
  if c.model.backbone == "stylegan2":
    c.model.G.update(z_dim=16, w_dim=16, n_mlp=2, channel_base=256, channel_max=16)
    c.model.D.update(channel_base=256, channel_max=16, proj_dim=0)
  else:
    c.model.G.update(z_dim=16, width=8)
    c.model.D.update(width=8, proj_dim=16)
  c.batch_size = 4
  c.mixdl.update(r1_every=2, pl_every=2)
  return reduced_schedule(c)
