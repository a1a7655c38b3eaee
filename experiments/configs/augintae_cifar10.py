"""augintae_cifar10: AugIntAE at the paper's scale on cifar10.

Command:  python experiments/run.py --config=augintae_cifar10            (AugIntAE)
          python experiments/run.py --config=augintae_cifar10:mode=int   (IntAE baseline; mode=ae: AE baseline)
Data:     CIFAR-10 (the paper's CIFAR-10 -> CIFAR-100 setting), 50,000 images upsampled to 64 px, from TFDS
          (built on first use; needs `pip install -e ".[tfds]"` and a download).
Setting:  paper A.1: DCGAN encoder/decoder, latent 512, natural-image augmentation ranges with
          colour jitter and mirror padding, slerp, LSGAN term with
          adaptive k and per-image gradient-norm equalisation, Adam 1e-3 constant, 100 epochs, batch 64.
Cost:     GPU-scale; on a 2-core CPU use augintae_omniglot_cpu.
Reduced:  :test runs the same phases at width 8 on scikit-learn's digits, 2 steps.
"""

from experiments.configs import _augintae


def get_config(arg=None):
  return _augintae.paper_preset("cifar10", arg)
