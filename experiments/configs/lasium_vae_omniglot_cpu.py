"""lasium_vae_omniglot_cpu: LASIUM's Omniglot VAE on images_background_small1, 2-core CPU.

Command:  python experiments/run.py --config=lasium_vae_omniglot_cpu
Data:     ../shared/data/omniglot/images_background_small1.zip (2,720 images), 28x28x1, labels unused.
Setting:  the paper's VAE (fsgen.methods.lasium_vae: strides (2, 2, 1, 1), latent 20, the code's loss
          weighting, Adam 1e-3, batch 128) with W = 32 channels instead of 64, EPOCHS = 150 epochs.
Cost:     measured in the README's LASIUM section.
Next:     python experiments/run.py --config=lasium_omniglot_cpu:generator=vae,strategy=n
Reduced:  :test trains a width-8 VAE for 2 steps (used by the tests); :epochs=E, :width=W.
"""

from experiments.configs import _lasium, parse_arg, reduced_schedule
from fsgen.methods import lasium_vae

WIDTH, EPOCHS = 32, 150


def get_config(arg=None):
  a = parse_arg(arg, test=False, epochs=EPOCHS, width=WIDTH)
  c = lasium_vae.default_config()
  c.data = _lasium.small1_data()
  c.model.width = a.width
  c.total_epochs = a.epochs
  c.log_every = 50
  c.sample_every, c.sample_every_epochs = 0, 25
  c.ckpt_every, c.ckpt_every_epochs = 0, 10
  if a.test:
    c.model.width = 8
    c.batch_size = 8
    reduced_schedule(c, steps=2, num_samples=8)
  return c
