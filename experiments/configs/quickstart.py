"""quickstart: a DCGAN-style `gan` on 10 real handwritten digits (one per class) from scikit-learn.

Command:  python experiments/run.py --config=quickstart
Data:     builtin:digits (scikit-learn's bundled 8x8 digits, no download), 1 image per class = 10 shots,
          upsampled (antialiased) to 32x32, one channel.
Setting:  non-saturating loss, R1 (gamma 10, lazy every 16 steps), MSGAN's mode-seeking term (weight 0.01),
          DiffAugment (color, translation, cutout), EMA generator, Adam 2e-4. R1 keeps it from collapsing on
          held-out MNIST digits (without it: one blob, 4 of 10 distinct nearest neighbours); the mode-seeking
          term keeps the generator from mapping every z to one image on Omniglot characters, Fashion-MNIST
          and the colour sets, where R1 alone collapsed (2-6 of 10; see
          experiments/reproduce/quickstart_robustness.py and the README).
Cost:     about 4.5 minutes on a 2-core CPU (252 s of training measured idle; up to 8 on a slower day);
          writes runs/quickstart/samples/*.png, checkpoints and an export.
Expected: digit-like samples at the end (10 training images, so mostly close variations of them).
Reduced:  --config=quickstart:test runs a few steps (used by the tests).
"""

from experiments.configs import parse_arg, reduced_schedule
from fsgen import configs
from fsgen.methods import gan


def get_config(arg=None):
  args = parse_arg(arg, test=False)
  c = gan.default_config()
  c.data = configs.data_defaults(
    source="builtin:digits", resolution=32, channels=1, shots=1, per_class=True, labels=True
  )
  c.model.G.width = 32
  c.model.D.width = 32
  c.batch_size = 32
  c.gan.r1_gamma = 10.0
  c.gan.mode_seeking = 0.01
  c.total_steps = 2000
  c.log_every = 50
  c.sample_every = 500
  c.ckpt_every = 500
  c.evals = dict(nn=dict(type="nn", every=1000, n=256))
  if args.test:
    c.model.G.width = c.model.D.width = 8
    c.batch_size = 8
    reduced_schedule(c, steps=4, num_samples=16, evals=dict(nn=dict(type="nn", every=4, n=16)))
  return c
