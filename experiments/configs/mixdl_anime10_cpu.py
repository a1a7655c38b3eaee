"""mixdl_anime10_cpu: MixDL on a light StyleGAN2 at 32 px, 10 shots, trained on a 2-core CPU.

Command:  python experiments/run.py --config=mixdl_anime10_cpu
Data:     the 10 anime faces of ../shared/data/anime10 (all of them), resized to 32x32. FID in
          experiments/reproduce/mixdl.py is against the same 10 images (the whole set).
Setting:  the paper's MixDL (Dir(1) in W, lambda_G 1000, lambda_D 1, mixup every 2nd step, patch D for
          mixups, batch 4 = mixup N, R1 10/16, PL 2/4, style mixing 0.9, StyleGAN2 Adam with lazy scaling)
          on a light StyleGAN2 (`_mixdl.light_model`: W 128, 4 mapping layers, channels min(128, 1024 / res))
          with DiffAugment (color, translation, cutout; the paper's "+ DA" rows), which 10 images need at
          this short schedule, and EMA 0.999 (the paper's 0.99778 is tuned for 100k+ steps).
Cost:     3000 steps. Measured by experiments/reproduce/mixdl.py on the 2-core CPU next to one other job
          (load ~4): 1073 s of training with MixDL, 917 s for the _nomixdl twin, compile included (so
          under 30 min each). Lower with :steps=N.
Expected: see the table in README / experiments/reproduce/mixdl.py (MixDL vs the _nomixdl twin).
Reduced:  :test runs the same code path at width 8, 2 steps (tests/test_mixdl_presets.py).
Twin:     mixdl_anime10_cpu_nomixdl.
"""

from experiments.configs import _mixdl, shared_data


def get_config(arg=None):
  return _mixdl.cpu_preset(shared_data("anime10", "img"), arg)
