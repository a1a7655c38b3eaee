"""lasium_omniglot_cpu: LASIUM-{N,RO,OC}-{GAN,VAE}-{MAML,ProtoNets} on the CPU scale, novel alphabets.

Command:  python experiments/run.py --config=lasium_omniglot_cpu:strategy=ro,generator=gan,learner=maml
          (reads the stage-1 workdir runs/lasium_gan_omniglot_cpu, or runs/lasium_vae_omniglot_cpu;
          --config.init_from=DIR for another)
Arguments: strategy n | ro | oc; generator gan | vae; learner maml | protonets; first_order; epsilon=E
          (default 246.09375 for N-GAN-MAML as the shipped run, else 0); untrained (the untrained-generator
          control, no init_from); steps=S meta-iterations (default STEPS).
Data:     tasks come from the generator trained on images_background_small1 (whose images are the
          method's data: the VAE draws its anchors from them; no labels are read). Meta-test: 1000 fixed
          5-way tasks (seed 42), 1 and 5 shots, 15 queries per class, of the alphabets of small2 that
          small1 lacks: Japanese_(katakana), Sanskrit, Tagalog (106 characters).
Setting:  the paper's Tables 5-6 and Table 7 constants (see lasium_omniglot), with the stage-1 generator
          of lasium_gan_omniglot_cpu (width 32) and STEPS = 1000 meta-iterations instead of the paper's
          unstated Table 1 length: the length of its ablations (Tables 7, 9, Fig. 5).
Cost:     (machine loaded, load 6-9; bench/meta_speed.py) one RO-GAN-MAML meta-iteration 0.98 s -> ~16 min
          for STEPS; the evaluation (MAML's 50 steps; 1000 1-shot tasks 0.26 s each, 1000 5-shot tasks
          1.02 s each, compile 30 s + 140 s) ~25 min more: the paper's protocol, not shortened here.
Reduced:  :test runs the same phases with a width-8 learner and an untrained width-8 generator, 2 steps.
"""

from experiments.configs import _lasium, lasium_gan_omniglot_cpu, lasium_vae_omniglot_cpu, parse_arg
from fsgen.methods import lasium

STEPS = 1000  # the length of every ablation in the paper (Tables 7, 9; Fig. 5); 2000 would exceed 30 min here


def get_config(arg=None):
  a = parse_arg(arg, **_lasium.LASIUM_ARGS)
  c = lasium.default_config()
  c.data = _lasium.small1_data()
  _lasium.lasium_setting(
    c,
    a,
    gan_width=lasium_gan_omniglot_cpu.WIDTH,
    vae_width=lasium_vae_omniglot_cpu.WIDTH,
    init_from=f"runs/lasium_{a.generator}_omniglot_cpu",
  )
  c.total_steps = a.steps or STEPS
  c.log_every, c.sample_every, c.ckpt_every = 50, 1000, 500
  c.num_samples = 60
  c.evals = _lasium.episodes_evals(_lasium.novel_reference(), every=c.total_steps)
  if a.test:
    c.generator.width = 8
    c.lasium.untrained_generator, c.init_from = True, ""
    _lasium.reduce_learner(c)
  return c
