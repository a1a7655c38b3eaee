"""lasium_vae_omniglot: LASIUM's Omniglot VAE (latent 20) on the 1200 meta-training characters.

Command:  python experiments/run.py --config=lasium_vae_omniglot:data=PATH   (or :tfds)
Data:     full Omniglot, the 1200 meta-training characters of the official seeded split (seed 47),
          28x28x1, labels unused.
Setting:  paper appendix 7.1 / official maml_vae_omniglot.py: 4 conv + 4 transposed-conv layers of 64
          channels with batch norm, strides (2, 2, 1, 1) (the paper's "stride 2 for all" is impossible at
          28 px), latent 20; reconstruction BCE summed over pixels, KL averaged over latent dims (the
          code's weighting); Adam 1e-3; batch 128; 1000 epochs (fsgen.methods.lasium_vae).
Cost:     not run here (about 1.5 s per step at width 64 on the 2-core CPU: a GPU job).
Next:     --config=lasium_omniglot:generator=vae --config.init_from=runs/lasium_vae_omniglot
Reduced:  :test trains a width-8 VAE on images_background_small1 for 2 steps (used by the tests).
"""

from experiments.configs import _lasium, parse_arg, reduced_schedule
from fsgen.methods import lasium_vae


def get_config(arg=None):
  a = parse_arg(arg, test=False, data="", tfds=False)
  c = lasium_vae.default_config()
  c.data = _lasium.paper_data("train", a.data, a.tfds)
  c.log_every = 100
  c.sample_every, c.sample_every_epochs = 0, 100
  c.ckpt_every, c.ckpt_every_epochs = 0, 20
  if a.test:
    c.data = _lasium.small1_data()
    c.model.width = 8
    c.batch_size = 8
    reduced_schedule(c, steps=2, num_samples=8)
  return c
