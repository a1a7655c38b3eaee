"""mixdl_anime10_cpu: MixDL on a light StyleGAN2 at 32 px, 10 shots, trained on a 2-core CPU.

Command:  python experiments/run.py --config=mixdl_anime10_cpu
Data:     the 10 anime faces of ../shared/data/anime10 (all of them), resized to 32x32. No larger anime set
          exists here: experiments/reproduce/mixdl.py scores against these 10 images, and its FID (rank-9
          covariance) is not meaningful; read KID.
Setting:  the paper's MixDL (Dir(1) in W, lambda_G 1000, lambda_D 1, mixup every 2nd step, patch D for
          mixups, batch 4 = mixup N, R1 10/16 on the image logit on ordinary steps as the paper-era code
          (mixdl.r1_target, see fsgen/methods/mixdl.py), PL 2/4, style mixing 0.9, StyleGAN2 Adam with
          lazy scaling, EMA 0.5 ** (32 / 10k) per step) on a light StyleGAN2 (`_mixdl.light_model`: W 128,
          4 mapping layers, channels min(128, 1024 / res)) with DiffAugment (color, translation, cutout;
          the paper's "+ DA" rows), which 10 images need at this short schedule.
Cost:     10,000 steps (`_mixdl.CPU_STEPS`, the length at which the plain twin draws recognisable
          anime faces; same for both twins): about 22 min with MixDL at the idle 7.5 steps/s, longer on a shared
          CPU (ms/step of the runs in README). Lower with :steps=N.
Expected: the table in README (experiments/reproduce/mixdl.py: MixDL vs the _nomixdl twin, and the ablation).
Reduced:  :test runs the same code path at width 8, 2 steps (tests/test_mixdl_presets.py).
Twin:     mixdl_anime10_cpu_nomixdl.
"""

from experiments.configs import _mixdl, shared_data


def get_config(arg=None):
  return _mixdl.cpu_preset(shared_data("anime10", "img"), arg)
