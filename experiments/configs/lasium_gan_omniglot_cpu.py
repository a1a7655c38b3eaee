"""lasium_gan_omniglot_cpu: LASIUM's Omniglot GAN (MSGAN term) on images_background_small1, 2-core CPU.

Command:  python experiments/run.py --config=lasium_gan_omniglot_cpu
Data:     ../shared/data/omniglot/images_background_small1.zip (5 alphabets, 136 characters, 2,720
          images), 28x28x1, labels unused.
Setting:  the paper's GAN and loss (fsgen.methods.lasium_gan: flipped-label BCE with 0.05 noise, MSGAN
          mode-seeking term, Adam 3e-4) with the generator's width cut from 128 to W = 32 channels (the
          width-128 generator costs seconds per step here) and batch 64; EPOCHS = 100 epochs of small1.
Cost:     measured in the README's LASIUM section (bench/phase_speed.py --config=lasium_gan_omniglot_cpu).
Next:     python experiments/run.py --config=lasium_omniglot_cpu:strategy=ro (reads runs/lasium_gan_omniglot_cpu)
Reduced:  :test trains width-8 nets for 2 steps (used by the tests); :epochs=E, :width=W change the scale.
"""

from experiments.configs import _lasium, parse_arg, reduced_schedule
from fsgen.methods import lasium_gan

WIDTH, EPOCHS, BATCH = 32, 100, 64


def get_config(arg=None):
  a = parse_arg(arg, test=False, epochs=EPOCHS, width=WIDTH)
  c = lasium_gan.default_config()
  c.data = _lasium.small1_data()
  c.model.G.width = a.width
  c.batch_size = BATCH
  c.total_epochs = a.epochs
  c.log_every = 50
  c.sample_every, c.sample_every_epochs = 0, 10
  c.ckpt_every, c.ckpt_every_epochs = 0, 5
  if a.test:
    c.model.G.width = c.model.D.width = 8
    c.batch_size = 8
    reduced_schedule(c, steps=2, num_samples=8)
  return c
