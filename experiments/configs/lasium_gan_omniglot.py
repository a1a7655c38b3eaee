"""lasium_gan_omniglot: LASIUM's Omniglot GAN with the MSGAN term, on the 1200 meta-training characters.

Command:  python experiments/run.py --config=lasium_gan_omniglot:data=PATH   (or :tfds)
Data:     full Omniglot (images_background + images_evaluation under PATH, default data/omniglot; or TFDS
          omniglot train+test), the 1200 meta-training characters of the official seeded split (seed 47),
          28x28x1, labels unused (about 24,000 images).
Setting:  paper appendix 7.1 / official maml_gan_omniglot.py: G width 128, latent 128, D 64-128-128 with
          global max-pool; BCE with flipped labels and 0.05 label noise; mode-seeking term; Adam 3e-4;
          batch 128; 500 epochs (fsgen.methods.lasium_gan).
Cost:     not run here: the width-128 generator costs seconds per step on the 2-core CPU (a GPU job).
Next:     --config=lasium_omniglot:generator=gan --config.init_from=runs/lasium_gan_omniglot
Reduced:  :test trains width-8 nets on images_background_small1 for 2 steps (used by the tests).
"""

from experiments.configs import _lasium, parse_arg, reduced_schedule
from fsgen.methods import lasium_gan


def get_config(arg=None):
  a = parse_arg(arg, test=False, data="", tfds=False)
  c = lasium_gan.default_config()
  c.data = _lasium.paper_data("train", a.data, a.tfds)
  c.log_every = 100
  c.sample_every, c.sample_every_epochs = 0, 50
  c.ckpt_every, c.ckpt_every_epochs = 0, 10
  if a.test:
    c.data = _lasium.small1_data()
    c.model.G.width = c.model.D.width = 8
    c.batch_size = 8
    reduced_schedule(c, steps=2, num_samples=8)
  return c
