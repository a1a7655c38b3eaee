"""cola_cifar10: unsupervised COLA on CIFAR-10 (paper Sec. 5, App. B.1-B.2), in two chained stages.

Command:  python experiments/run.py --config=cola_cifar10:stage=1 --workdir=runs/cola_cifar10/step1
          python experiments/run.py --config=cola_cifar10:stage=2 --workdir=runs/cola_cifar10/step2
          (stage 2 reads stage 1 through config.init_from, default runs/cola_cifar10/step1)
Data:     tfds:cifar10 train split, 50,000 images at 32x32x3 (needs `pip install fsgen[tfds]`).
Setting:  Step I (`cola_encoder`): ResNet-18, K = 10 one-hot GMM targets, per-batch Hungarian, one
          augmented view, SGD 0.05 momentum 0.9 wd 5e-4, batch 128 (512 rotated), 200 epochs of
          assignment + rotation, lr x0.5 every 50. Steps II/III (`cola`): InfoGAN generator, d = 128 (the
          full-data setting), Adam 1e-3 (G) / 1e-2 (Z), x0.5 every 50 epochs, 500 epochs; Laplacian loss by
          default, the paper's VGG perceptual loss with arg `perceptual` (needs fsgen.nets.lpips).
Cost:     GPU-scale: 156,400 Step-I steps and 195,500 Step-II steps; not meant for the 2-core CPU.
Expected: paper Fig. 4-6 (plots only); clustering accuracy of Step I is logged as E/cluster_acc.
Reduced:  `test` switches the source to builtin:digits (no download), tiny nets, 2 steps; stage 2 then
          needs --config.init_from=<the stage-1 test workdir>.
"""

import math

from fsgen import configs
from fsgen.methods import cola, cola_encoder

NUM_IMAGES = 50_000


def stage_config(
  args,
  *,
  source,
  num_images,
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
  """Shared by the COLA presets: the stage-1 or stage-2 config of a dataset (`shots` > 0: a random subset
  of that many images, chosen by data.subset_seed = seed)."""
  data = configs.data_defaults(
    source=source, resolution=resolution, channels=channels, labels=True, shots=shots, subset_seed=args.get("seed", 0)
  )
  if args.stage == 1:
    c = cola_encoder.default_config()
    c.model.E.width = width
    c.optim.E.halve_every_epochs = halve_every
    epoch = math.ceil(num_images / c.batch_size)
    c.total_steps = enc_epochs * 2 * epoch
  elif args.stage == 2:
    c = cola.default_config()
    c.cola.latent_dim = latent_dim
    c.model.G.width = gen_width
    c.cola.halve_every_epochs = halve_every
    c.cola.loss = "perceptual" if args.get("perceptual", False) else "laplacian"
    c.init_from = f"runs/{name}/step1" + (f"_seed{c_seed}" if (c_seed := args.get("seed", 0)) else "")
    epoch = math.ceil(num_images / c.batch_size)
    c.total_steps = gen_epochs * epoch
  else:
    raise ValueError(f"COLA presets have stage=1 (encoder) or stage=2 (generator), got stage={args.stage}")
  c.data = data
  c.seed = args.get("seed", 0)
  c.log_every = epoch
  c.sample_every = c.ckpt_every = 10 * epoch
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
    configs.reduced_schedule(c, num_samples=16)
  return c


def get_config(arg=None):
  args = configs.parse_arg(arg, stage=1, test=False, seed=0, perceptual=False)
  return stage_config(
    args, source="tfds:cifar10", num_images=NUM_IMAGES, resolution=32, channels=3, name="cola_cifar10"
  )
