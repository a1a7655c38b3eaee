"""scola_fmnist_10spc_cpu: sCOLA on 10 Fashion-MNIST images per class on the CPU; see scola_fmnist_cpu.

Command:  python experiments/run.py --config=scola_fmnist_10spc_cpu --workdir=runs/scola_fmnist_10spc_cpu
Data, setting, cost, expected: scola_fmnist_cpu with spc=10. Args: seed=S, test.
Reduced:  `test` switches the source to builtin:digits, tiny nets, 2 steps.
"""

from experiments.configs import _cola


def get_config(arg=None):
  return _cola.scola_fmnist_cpu(arg, spc=10)
