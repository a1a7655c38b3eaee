"""scola_cifar10_50spc: sCOLA on 50 CIFAR-10 images per class (paper Table 2); see scola_cifar10.

Command:  python experiments/run.py --config=scola_cifar10_50spc --workdir=runs/scola_cifar10_50spc
Data, setting, cost, expected accuracy: scola_cifar10 with spc=50. Args: seed=S, test.
Reduced:  `test` switches the source to builtin:digits (no download), tiny nets, 2 steps.
"""

from experiments.configs import _cola


def get_config(arg=None):
  return _cola.scola_cifar10(arg, spc=50)
