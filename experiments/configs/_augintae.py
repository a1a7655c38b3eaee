"""The bodies of AugIntAE's presets (augintae_*, intae_*, ae_*): not a preset itself.

  omniglot_cpu_preset(mode, arg)   the *_omniglot_cpu presets: the paper's 28 px setting on Omniglot
                                   background_small1 (../shared/data/omniglot), sized for a 2-core CPU
  paper_preset(dataset, arg)       the paper-scale presets (A.1) on MNIST, Omniglot or CIFAR-10 (TFDS)
  set_mode(c, mode)                the AE / IntAE baselines of a preset
  reduce_for_test(c)               the reduced `:test` form

Durations count in epochs of the training set (`total_epochs`; the loop converts them with the data's
DataInfo), so no preset states a dataset size.
"""

from __future__ import annotations

import ml_collections

from experiments.configs import parse_arg, reduced_schedule, shared_data
from fsgen import configs
from fsgen.data import param_augment
from fsgen.methods import augintae

OMNIGLOT_SMALL1 = ("omniglot", "images_background_small1.zip")  # 5 alphabets, 136 characters x 20 drawers

PAPER_DATASETS = {  # name: (source, resolution, channels)
  "mnist": ("tfds:mnist:train", 28, 1),
  "omniglot": ("tfds:omniglot:train", 28, 1),  # the background alphabets, 19,280 images
  "cifar10": ("tfds:cifar10:train", 64, 3),  # upsampled to DCGAN's 64 px (paper Sec. 5)
}


def set_mode(c: ml_collections.ConfigDict, mode: str) -> ml_collections.ConfigDict:
  """The AE / IntAE baselines of a preset: same nets, data, GAN term and schedule, another objective."""
  if mode not in augintae.MODES:
    raise ValueError(f"augintae.mode must be one of {augintae.MODES}, got {mode!r}")
  c.augintae.mode = mode
  return c


def omniglot_cpu_preset(mode: str, arg=None) -> ml_collections.ConfigDict:
  """The *_omniglot_cpu presets' body: the paper's 28 px setting (InfoGAN nets, latent 32, Adam 1e-3,
  LSGAN term) on Omniglot background_small1, `epochs` passes (default 100, as in the paper) at batch 64;
  `arg` takes epochs=N and test (the reduced form)."""
  args = parse_arg(arg, test=False, epochs=100)
  c = set_mode(augintae.default_config(), mode)
  c.data = configs.data_defaults(
    source=f"omniglot:{shared_data(*OMNIGLOT_SMALL1)}", resolution=28, channels=1, labels=True
  )
  c.total_epochs, c.total_steps = args.epochs, 0
  c.log_every, c.sample_every, c.ckpt_every = 100, 1000, 1000
  c.num_samples = 64
  return reduce_for_test(c) if args.test else c


def paper_preset(dataset: str, arg=None) -> ml_collections.ConfigDict:
  """The paper-scale presets' body (A.1): 28 px handwriting with InfoGAN nets and latent 32, or CIFAR-10
  at 64 px with DCGAN nets, latent 512, the natural-image ranges and mirror padding; 100 epochs at
  batch 64, Adam 1e-3. `arg` takes mode=augint|int|ae (the baselines), epochs=N and test."""
  if dataset not in PAPER_DATASETS:
    raise ValueError(f"unknown AugIntAE paper dataset {dataset!r} (known: {', '.join(PAPER_DATASETS)})")
  args = parse_arg(arg, test=False, epochs=100, mode="augint")
  source, res, ch = PAPER_DATASETS[dataset]
  c = set_mode(augintae.default_config(), args.mode)
  c.data = configs.data_defaults(source=source, resolution=res, channels=ch)
  if ch == 3:
    c.model.arch = "dcgan"
    c.augintae.update(latent_dim=512, augment=param_augment.ranges_for("natural"), fill="mirror")
  c.total_epochs, c.total_steps = args.epochs, 0
  c.log_every, c.sample_every, c.ckpt_every = 100, 2000, 2000
  return reduce_for_test(c) if args.test else c


def reduce_for_test(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """The same nets and phases at width 8, batch 8, on scikit-learn's digits (no download), 2 steps."""
  c.data = configs.data_defaults(
    source="builtin:digits", resolution=c.data.resolution, channels=c.data.channels, shots=64
  )
  c.model.width = 8
  c.batch_size = 8
  return reduced_schedule(c)
