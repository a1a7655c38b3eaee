"""lasium_omniglot: LASIUM-{N,RO,OC}-{GAN,VAE}-{MAML,ProtoNets} on full Omniglot (paper Table 1 setting).

Command:  python experiments/run.py --config=lasium_omniglot:strategy=ro,generator=gan,learner=maml,data=PATH
            --config.init_from=runs/lasium_gan_omniglot   (the stage-1 workdir: lasium_gan_omniglot or
            lasium_vae_omniglot with the same data argument)
Arguments: strategy n | ro | oc; generator gan | vae; learner maml | protonets; first_order; epsilon=E
          (default: 246.09375 for N-GAN-MAML, the shipped run; else 0); untrained (the untrained-generator
          control, no init_from); steps=S (default 60000 for MAML, 8000 for ProtoNets); data=PATH or tfds.
Data:     meta-training draws tasks from the generator only (the unlabelled 1200 meta-training
          characters are the method's data; the VAE takes its anchor images from them). Meta-test: 1000
          fixed 5-way tasks (seed 42) of the 323 test characters, 1 and 5 shots, 15 queries per class.
Setting:  paper Tables 5-6: 5-way, K_tr 1, K_val 5 in meta-training, meta-batch 4, Adam 1e-3; MAML inner
          lr 0.4, 5 inner steps (50 at evaluation), second order; strategy constants of Table 7
          (experiments/configs/_lasium.py STRATEGY). The paper does not state the meta-training length of
          Table 1; 60000 iterations is the official UMTRA Omniglot length it compares with [inferred], 8000
          the official ProtoNets-GAN Omniglot script's.
Expected: paper Table 1: RO-GAN-MAML 83.26 / 95.29 (1 / 5 shots), N-VAE-MAML 76.11 / 94.42, RO-GAN-ProtoNets
          80.15 / 91.10, OC-VAE-ProtoNets 73.22 / 85.05; training from scratch 51.64 / 71.44.
Cost:     not run here (a GPU job; see lasium_omniglot_cpu for the CPU scale).
Reduced:  :test runs the same phases with a width-8 learner and an untrained width-8 generator, 2 steps.
"""

from experiments.configs import _lasium, parse_arg
from fsgen.methods import lasium


def get_config(arg=None):
  a = parse_arg(arg, data="", tfds=False, **_lasium.LASIUM_ARGS)
  c = lasium.default_config()
  c.data = _lasium.paper_data("train", a.data, a.tfds)
  _lasium.lasium_setting(c, a, gan_width=128, vae_width=64, init_from=f"runs/lasium_{a.generator}_omniglot")
  c.total_steps = a.steps or (60000 if a.learner == "maml" else 8000)
  c.log_every, c.sample_every, c.ckpt_every = 100, 5000, 1000
  c.num_samples = 60
  c.evals = _lasium.episodes_evals(_lasium.paper_reference(a.data, a.tfds), every=c.total_steps)
  if a.test:
    c.generator.width = 8
    c.lasium.untrained_generator, c.init_from = True, ""
    _lasium.reduce_learner(c)
  return c
