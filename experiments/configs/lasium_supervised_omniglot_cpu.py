"""lasium_supervised_omniglot_cpu: supervised MAML / ProtoNets on images_background_small1's labels
(LASIUM's upper bound at the CPU scale); steps=0 is "training from scratch".

Command:  python experiments/run.py --config=lasium_supervised_omniglot_cpu:learner=maml
          (steps=0, the scratch baseline: the loop refuses 0 steps, so experiments/reproduce/lasium.py
          evaluates this preset's learner at its initialisation, row "scratch")
Arguments: learner maml | protonets; first_order; steps=S (default lasium_omniglot_cpu.STEPS, the same
          meta-training length as the LASIUM rows; 0: no meta-training).
Data:     images_background_small1 with its character labels (136 classes); meta-test as
          lasium_omniglot_cpu: 1000 fixed tasks of small2's novel alphabets, 1 and 5 shots, 15 queries.
Setting:  the lasium presets' learner and task shape (5-way, K_tr 1, K_val 5, meta-batch 4) on real episodes.
Cost:     as lasium_omniglot_cpu's MAML rows (README's LASIUM section).
Reduced:  :test: width-8 learner, 2 steps.
"""

from experiments.configs import _lasium, lasium_omniglot_cpu, parse_arg
from fsgen.methods import lasium_supervised


def get_config(arg=None):
  a = parse_arg(arg, test=False, learner="maml", first_order=False, steps=-1)
  c = lasium_supervised.default_config()
  c.data = _lasium.small1_data()
  _lasium.learner_setting(c, a.learner, a.first_order)
  c.total_steps = a.steps if a.steps >= 0 else lasium_omniglot_cpu.STEPS
  c.log_every, c.sample_every, c.ckpt_every = 50, 1000, 500
  c.num_samples = 60
  c.evals = _lasium.episodes_evals(_lasium.novel_reference(), every=max(1, c.total_steps))
  if a.test:
    _lasium.reduce_learner(c, steps=2 if a.steps != 0 else 0)
  return c
