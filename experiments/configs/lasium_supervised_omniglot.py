"""lasium_supervised_omniglot: supervised MAML / ProtoNets on the 1200 labelled meta-training characters
(LASIUM's upper bound, paper Table 1 "Supervised MAML"); steps=0 is "training from scratch".

Command:  python experiments/run.py --config=lasium_supervised_omniglot:learner=maml,data=PATH
          (steps=0, the scratch baseline, is the learner at its initialisation: the loop refuses 0 steps,
          so it is evaluated without training, as experiments/reproduce/lasium.py's "scratch" row does)
Arguments: learner maml | protonets; first_order; steps=S (default 60000 MAML / 8000 ProtoNets; 0: no
          meta-training, the scratch baseline); data=PATH or tfds.
Data:     full Omniglot, the 1200 meta-training characters of the official split with their labels;
          meta-test: 1000 fixed 5-way tasks (seed 42) of the 323 test characters, 1 and 5 shots, 15 queries.
Setting:  the lasium presets' learner and task shape (5-way, K_tr 1, K_val 5, meta-batch 4), on real
          episodes instead of generated ones.
Expected: paper Table 1: supervised MAML 94.46 / 98.83, supervised ProtoNets 98.35 / 99.58; training from
          scratch 51.64 / 71.44.
Cost:     not run here (see lasium_supervised_omniglot_cpu).
Reduced:  :test: width-8 learner on images_background_small1, 2 steps.
"""

from experiments.configs import _lasium, parse_arg
from fsgen.methods import lasium_supervised


def get_config(arg=None):
  a = parse_arg(arg, test=False, data="", tfds=False, learner="maml", first_order=False, steps=-1)
  c = lasium_supervised.default_config()
  c.data = _lasium.paper_data("train", a.data, a.tfds)
  _lasium.learner_setting(c, a.learner, a.first_order)
  c.total_steps = a.steps if a.steps >= 0 else (60000 if a.learner == "maml" else 8000)
  c.log_every, c.sample_every, c.ckpt_every = 100, 5000, 1000
  c.num_samples = 60
  c.evals = _lasium.episodes_evals(_lasium.paper_reference(a.data, a.tfds), every=max(1, c.total_steps))
  if a.test:
    _lasium.reduce_learner(c, steps=2 if a.steps != 0 else 0)
  return c
