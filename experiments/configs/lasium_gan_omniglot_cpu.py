"""lasium_gan_omniglot_cpu: LASIUM's Omniglot GAN (MSGAN term) on images_background_small1, 2-core CPU.

Command:  python experiments/run.py --config=lasium_gan_omniglot_cpu
Data:     ../shared/data/omniglot/images_background_small1.zip (5 alphabets, 136 characters, 2,720
          images), 28x28x1, labels unused.
Setting:  the paper's GAN and loss (fsgen.methods.lasium_gan: flipped-label BCE with 0.05 noise, MSGAN
          mode-seeking term, Adam 3e-4) with the generator's width cut from 128 to W = 32 channels (the
          width-128 generator costs seconds per step here) and batch 64; EPOCHS = 35 epochs of small1
          (1,505 steps; the official code trains 500 epochs of 1200 characters, its Fig. 5 ablation shows
          most of LASIUM's gain by 10-30 of those epochs).
Cost:     one D + G step 1.07 s wall (0.91 s CPU) with the machine loaded (load 6-9), so ~27 min
          (bench/meta_speed.py --rows gan; width 128: 6.1 s per step).
Next:     python experiments/run.py --config=lasium_omniglot_cpu:strategy=ro (reads runs/lasium_gan_omniglot_cpu)
Reduced:  :test trains width-8 nets for 2 steps (used by the tests); :epochs=E, :width=W change the scale.
"""

from experiments.configs import _lasium, parse_arg, reduced_schedule
from fsgen.methods import lasium_gan

WIDTH, EPOCHS, BATCH = 32, 35, 64


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
