"""scola_cifar10: sCOLA on k labelled CIFAR-10 images per class, for the small-sample classification of
paper Sec. 6 (Table 2). The named presets scola_cifar10_{5,10,20,50,100}spc fix k; `spc=K` sets any k.

Command:  python experiments/run.py --config=scola_cifar10_20spc --workdir=runs/scola_cifar10_20spc
          then the classifiers: python experiments/reproduce/cola.py --classify=runs/scola_cifar10_20spc
Data:     tfds:cifar10 train split, k images per class chosen by data.subset_seed = seed (3 subsets in the
          paper); test accuracy on tfds:cifar10 test (needs `pip install fsgen[tfds]`).
Setting:  App. B.2: one-hot class parts, InfoGAN generator, d = 64, Laplacian-pyramid loss, Adam 1e-3 (G)
          / 1e-2 (codes), x0.5 every 50 epochs, 500 epochs, batch min(128, 10k). Classification (B.3):
          ResNet-20, SGD 0.1 x0.5 every 30 epochs, 180 epochs of 8 steps (= one pass over the 100-spc set,
          the same for every k), batch 128, crop + flip; 1,000 generated images per class [inferred].
Cost:     500-4,000 generator steps of batch <= 128 and 3 x 1,440 classifier steps: GPU minutes.
Expected: Mix accuracy (paper Table 2): 29.05 (5), 42.86 (10), 49.63 (20), 54.51 (50), 58.59 (100).
Reduced:  `test` switches the source to builtin:digits (2 per class, 16 px, no download), tiny nets, 2 steps.
"""

import math

from fsgen import classify, configs
from fsgen.methods import scola


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
  """Shared by the sCOLA presets."""
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
  epoch = math.ceil(classes * args.spc / c.batch_size)
  c.total_steps = epochs * epoch
  c.log_every = 10 * epoch
  c.sample_every = c.ckpt_every = 100 * epoch
  c.classify = classify_cfg or classify.default_config(test_source=test_source, gen_per_class=1000)
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
    configs.reduced_schedule(c, num_samples=16)
    c.classify = classify.default_config(
      test_source="builtin:digits", epochs=1, steps_per_epoch=2, batch_size=8, width=4, gen_per_class=4, seed=args.seed
    )
  return c


def get_config(arg=None):
  args = configs.parse_arg(arg, spc=100, seed=0, test=False)
  return scola_config(args, source="tfds:cifar10", test_source="tfds:cifar10:test", resolution=32, channels=3)
