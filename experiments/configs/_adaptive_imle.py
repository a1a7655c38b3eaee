"""Preset bodies shared by the Adaptive IMLE / IMLE presets (adaimle_*.py, imle_*.py).

paper_config(dataset, arg, adaptive=...)  the official 256 px settings of one dataset (a key of PAPER)
cpu_config(arg, adaptive=...)             100-shot Panda at 32 px, sized for a 2-core CPU
test_form(c)                              the reduced form every preset's `test` arg gives
"""

from __future__ import annotations

import ml_collections

from experiments.configs import parse_arg, reduced_schedule, shared_data
from fsgen import configs
from fsgen.methods import adaptive_imle
from fsgen.nets import imle_generator as ig

# Per-dataset settings of the official reproduce/*.sh (all `--hps fewshot`, 256 px): images, gamma
# (change_coef), force_factor (pool = factor * n), staleness, force_resample, lr. [adaptive_imle.md Sec. 4]
PAPER = {
  "grumpycat100": dict(n=100, change_coef=0.02, pool_factor=100, staleness=5, force_resample=25, lr=1e-4),
  "obama100": dict(n=100, change_coef=0.01, pool_factor=100, staleness=5, force_resample=15, lr=5e-5),
  "panda100": dict(n=100, change_coef=0.01, pool_factor=200, staleness=5, force_resample=30, lr=1e-4),
  "cat": dict(n=160, change_coef=0.01, pool_factor=100, staleness=5, force_resample=25, lr=5e-5),
  "dog": dict(n=389, change_coef=0.01, pool_factor=100, staleness=5, force_resample=15, lr=1e-4),
  "ffhq100": dict(n=100, change_coef=0.02, pool_factor=100, staleness=5, force_resample=15, lr=1e-4),
}


def _base(adaptive: bool) -> ml_collections.ConfigDict:
  c = adaptive_imle.default_config()
  if not adaptive:
    c.method, c.imle.adaptive = "imle", False
  return c


def test_form(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """The reduced form every preset's `test` arg gives: 16 px digits, width 8, 2 steps, pixel distance.

  Per-dataset constants are set to common values too, so all presets share two compiled programs
  (adaptive and not) and the tests stay fast.
  """
  c.data = configs.data_defaults(source="builtin:digits", resolution=16, channels=3, shots=8)
  c.model.G.update(blocks="1x1,4m1,8m4,16m8", width=8, map_layers=2, z_dim=16, gelu_approximate=True)
  c.imle.update(
    features="pixel",
    pool_factor=3,
    chunk=8,
    eval_batch=8,
    change_coef=0.01,
    staleness=1,
    force_resample=2,
    warmup_steps=2,
  )
  c.optim.G.learning_rate = 1e-3
  c.batch_size = 4
  return reduced_schedule(c)


def paper_config(dataset: str, arg: str | None, *, adaptive: bool) -> ml_collections.ConfigDict:
  """A 256 px paper preset: official architecture and settings for `dataset` (a key of PAPER).

  Preset args: data_root (folder holding <dataset>/img/*, the official ./datasets layout), test.
  """
  args = parse_arg(arg, test=False, data_root="datasets")
  s = PAPER[dataset]
  c = _base(adaptive)
  c.data = configs.data_defaults(source=f"folder:{args.data_root}/{dataset}/img", resolution=256, channels=3)
  c.optim.G.learning_rate = s["lr"]
  c.imle.update(
    change_coef=s["change_coef"],
    pool_factor=s["pool_factor"],
    staleness=s["staleness"],
    force_resample=s["force_resample"],
    features="lpips_vgg",
    sample_from="raw",
  )
  # The official loop never ends; the authors' logged panda run stopped at 67,750 iterations.
  c.total_steps = 70_000
  c.log_every, c.sample_every, c.ckpt_every = 100, 2_500, 2_500
  # Official: train-set FID of 5n samples from the raw model every 5 epochs (here every 2,500 steps).
  c.evals = dict(fid=dict(type="fid", every=2_500, n=5 * s["n"]))
  return test_form(c) if args.test else c


# The CPU preset's length and re-match settings (see experiments/configs/adaimle_panda100_cpu.py for how
# they were chosen).
CPU_EPOCHS = 200


def cpu_config(arg: str | None, *, adaptive: bool) -> ml_collections.ConfigDict:
  """The 100-shot Panda preset sized for a 2-core CPU (32 px); see experiments/configs/*_panda100_cpu.py.

  Preset args: data_root (folder holding panda100/img/*; default the shared datasets), epochs (length),
  force_resample (epochs between forced re-matches; 0 = the official panda setting, 30), test.
  """
  args = parse_arg(arg, test=False, data_root="", epochs=CPU_EPOCHS, force_resample=0)
  s = PAPER["panda100"]
  c = _base(adaptive)
  folder = f"{args.data_root}/panda100/img" if args.data_root else shared_data("panda100", "img")
  c.data = configs.data_defaults(source=f"folder:{folder}", resolution=32, channels=3, shots=100)
  c.model.G.update(
    blocks=ig.blocks_for(32, 2), width=32, map_layers=8, z_dim=128, gelu_approximate=True, noise_max_res=8
  )
  c.optim.G.learning_rate = 2e-4  # the `--hps fewshot` default; short runs need the larger step
  c.imle.update(
    change_coef=s["change_coef"],
    staleness=s["staleness"],
    force_resample=args.force_resample or s["force_resample"],
    pool_factor=10,
    chunk=100,
    eval_batch=50,
    features="lpips_alex",
    lpips_size=64,  # LPIPS on the 2x upsampled image: at 32 px its deep taps are 1x1 and prefer noise to blur
    ema_decay=0.999,
    sample_from="raw",
  )
  c.total_epochs, c.total_steps = args.epochs, 0
  c.log_every, c.sample_every, c.ckpt_every = 0, 0, 0
  c.log_every_epochs, c.sample_every_epochs, c.ckpt_every_epochs = 1, 20, 20
  c.num_samples = 64
  return test_form(c) if args.test else c
