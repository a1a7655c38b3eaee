"""augintae_mnist: AugIntAE at the paper's scale on mnist.

Command:  python experiments/run.py --config=augintae_mnist            (AugIntAE)
          python experiments/run.py --config=augintae_mnist:mode=int   (IntAE baseline; mode=ae: AE baseline)
Data:     MNIST digits (the paper's MNIST -> EMNIST letters setting), 60,000 training images at 28 px, one
          channel, from TFDS (built on first use; needs `pip install -e ".[tfds]"` and a download).
Setting:  paper A.1: InfoGAN encoder/decoder, latent 32, character augmentation ranges, slerp, LSGAN term with
          adaptive k and per-image gradient-norm equalisation, Adam 1e-3 constant, 100 epochs, batch 64.
Cost:     GPU-scale; on a 2-core CPU use augintae_omniglot_cpu.
Reduced:  :test runs the same phases at width 8 on scikit-learn's digits, 2 steps.
"""

from experiments.configs import _augintae


def get_config(arg=None):
  return _augintae.paper_preset("mnist", arg)
