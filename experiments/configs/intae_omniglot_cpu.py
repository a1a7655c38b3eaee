"""intae_omniglot_cpu: the IntAE baseline of AugIntAE on Omniglot characters at 28 px, trained on a 2-core CPU.

Command:  python experiments/run.py --config=intae_omniglot_cpu
Data:     ../shared/data/omniglot/images_background_small1.zip (5 alphabets, 136 characters, 2,720 images),
          resized to 28x28, one channel.
Setting:  the paper's 28 px setting (A.1): InfoGAN encoder/decoder, latent 32 on the unit sphere, slerp,
          affine augmentation ranges for characters, LSGAN term with adaptive k and per-image gradient-norm
          equalisation, Adam 1e-3 constant, 100 epochs (4,300 steps at batch 64). mode = "int".
Cost:     bench/phase_speed.py --config=augintae_omniglot_cpu on the idle 2-core CPU, measured before the nets
          got batch norm (not re-measured since): D phase 252 ms, AE phase
          408 ms per step (batch 64; compute-bound: ~35M multiply-adds per image through E and G), i.e.
          ~47 min for the 100 epochs; :epochs=20 (~10 min) for a quick look.
Expected: sample grids of interpolations between 6 training characters in WORKDIR/samples/ (a 300-step
          check shows character-like strokes; the full run has not been made yet).
Reduced:  :test runs the same phases at width 8 on scikit-learn's digits, 2 steps; :epochs=N shortens it.
Family:   augintae_omniglot_cpu, intae_omniglot_cpu, ae_omniglot_cpu (same nets and data).
"""

from experiments.configs import _augintae


def get_config(arg=None):
  return _augintae.omniglot_cpu_preset("int", arg)
