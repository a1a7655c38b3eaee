"""Preset bodies shared by the COLA presets (cola_cifar10, cola_stl10, cola_fmnist_cpu) and the sCOLA
presets (scola_cifar10[_Kspc], scola_fmnist[_Kspc]_cpu). Not a preset itself (the leading underscore).

Durations are in epochs of the training set (total_epochs, log_every_epochs, ...): the loop converts them
with the data it loads (fsgen.schedule), so no preset states a dataset size. COLA's Step I counts
"epochs" as the paper does, one assignment epoch plus one rotation epoch, i.e. two loop epochs each.
"""

from __future__ import annotations

from experiments.configs import parse_arg, reduced_schedule, shared_data
from fsgen import configs
from fsgen.methods import cola, cola_encoder, scola
from fsgen.metrics import small_sample

FMNIST = f"idx:{shared_data('fashion_mnist')}"


def cola_args(arg):
  return parse_arg(arg, stage=1, test=False, seed=0, perceptual=False)


def stage_config(
  args,
  *,
  source,
  resolution,
  channels,
  name,
  latent_dim=128,
  width=64,
  gen_width=64,
  enc_epochs=200,
  gen_epochs=500,
  halve_every=50,
  shots=0,
):
  """The stage-1 (Step I, `cola_encoder`) or stage-2 (Steps II-III, `cola`) config of a dataset.

  enc_epochs: COLA epochs of Step I (each an assignment and a rotation epoch); gen_epochs: Step II epochs;
  halve_every: the lr halving interval in the stage's epochs; shots > 0: a random subset of that many
  images, chosen by data.subset_seed = seed.
  """
  seed = args.get("seed", 0)
  data = configs.data_defaults(
    source=source, resolution=resolution, channels=channels, labels=True, shots=shots, subset_seed=seed
  )
  if args.stage == 1:
    c = cola_encoder.default_config()
    c.model.E.width = width
    c.optim.E.halve_every_epochs = halve_every
    c.total_epochs = 2 * enc_epochs  # loop epochs: one assignment + one rotation epoch per COLA epoch
  elif args.stage == 2:
    c = cola.default_config()
    c.cola.latent_dim = latent_dim
    c.model.G.width = gen_width
    c.cola.halve_every_epochs = halve_every
    c.cola.loss = "perceptual" if args.get("perceptual", False) else "laplacian"
    c.init_from = f"runs/{name}/step1" + (f"_seed{seed}" if seed else "")
    c.total_epochs = gen_epochs
  else:
    raise ValueError(f"COLA presets have stage=1 (encoder) or stage=2 (generator), got stage={args.stage}")
  c.total_steps = 0
  c.data = data
  c.seed = seed
  c.log_every, c.log_every_epochs = 0, 1
  c.sample_every = c.ckpt_every = 0
  c.sample_every_epochs = c.ckpt_every_epochs = 10
  if args.test:
    # 8 images in batches of 8: one step per epoch, so 2 steps run the assignment and the rotation phase.
    c.data = configs.data_defaults(source="builtin:digits", resolution=16, channels=channels, shots=8, labels=True)
    c.batch_size = 8
    if args.stage == 1:
      c.model.E.width = 4
      c.model.E.blocks = (1, 1, 1, 1)
    else:
      c.model.G.width = 8
      c.cola.latent_dim = 8
    reduced_schedule(c, num_samples=16)
  return c


def scola_args(arg, spc: int):
  return parse_arg(arg, spc=spc, seed=0, test=False)


def scola_config(
  args,
  *,
  source,
  test_source,
  resolution,
  channels,
  classes=10,
  width=64,
  epochs=500,
  halve_every=50,
  classify_cfg=None,
):
  """An sCOLA preset on args.spc images per class (chosen by data.subset_seed = args.seed), with the
  classification protocol's config (config.classify, fsgen.metrics.small_sample)."""
  c = scola.default_config()
  c.seed = args.seed
  c.data = configs.data_defaults(
    source=source,
    resolution=resolution,
    channels=channels,
    shots=args.spc,
    per_class=True,
    labels=True,
    subset_seed=args.seed,
  )
  c.cola.clusters = classes
  c.cola.halve_every_epochs = halve_every
  c.model.G.width = width
  c.batch_size = min(128, classes * args.spc)
  c.total_steps, c.total_epochs = 0, epochs
  c.log_every, c.log_every_epochs = 0, 10
  c.sample_every = c.ckpt_every = 0
  c.sample_every_epochs = c.ckpt_every_epochs = 100
  c.classify = classify_cfg or small_sample.default_config(test_source=test_source, gen_per_class=1000)
  c.classify.seed = args.seed
  if args.test:
    c.data = configs.data_defaults(
      source="builtin:digits",
      resolution=16,
      channels=channels,
      shots=2,
      per_class=True,
      labels=True,
      subset_seed=args.seed,
    )
    c.model.G.width = 8
    c.cola.latent_dim = 8
    c.batch_size = 8
    reduced_schedule(c, num_samples=16)
    c.classify = small_sample.default_config(
      test_source="builtin:digits", epochs=1, steps_per_epoch=2, batch_size=8, width=4, gen_per_class=4, seed=args.seed
    )
  return c


def scola_cifar10(arg, spc: int = 100):
  """scola_cifar10[_Kspc]: k CIFAR-10 images per class (paper Table 2), the B.3 classifier."""
  return scola_config(
    scola_args(arg, spc), source="tfds:cifar10", test_source="tfds:cifar10:test", resolution=32, channels=3
  )


def scola_fmnist_cpu(arg, spc: int = 20):
  """scola_fmnist[_Kspc]_cpu: k Fashion-MNIST images per class, classifiers sized for the CPU."""
  # B.3: the same iterations per epoch at every size; 2 = one pass over the largest set here (20 x 10 / 128).
  cls = small_sample.default_config(test_source=FMNIST + ":t10k", steps_per_epoch=2, gen_per_class=500)
  return scola_config(
    scola_args(arg, spc), source=FMNIST, test_source=FMNIST + ":t10k", resolution=28, channels=1, classify_cfg=cls
  )
