"""augintae_omniglot: AugIntAE at the paper's scale on omniglot.

Command:  python experiments/run.py --config=augintae_omniglot            (AugIntAE)
          python experiments/run.py --config=augintae_omniglot:mode=int   (IntAE baseline; mode=ae: AE baseline)
Data:     Omniglot background alphabets (the paper's Omniglot train -> test alphabets setting), 19,280 images
          resized to 28 px, one channel, from TFDS (built on first use; needs `pip install -e ".[tfds]"` and a
          download).
Setting:  paper A.1: InfoGAN encoder/decoder, latent 32, character augmentation ranges, slerp, LSGAN term with
          adaptive k and per-image gradient-norm equalisation, Adam 1e-3 constant, 100 epochs, batch 64.
Cost:     GPU-scale; on a 2-core CPU use augintae_omniglot_cpu.
Reduced:  :test runs the same phases at width 8 on scikit-learn's digits, 2 steps.
"""

from experiments.configs import _augintae


def get_config(arg=None):
  return _augintae.paper_preset("omniglot", arg)
