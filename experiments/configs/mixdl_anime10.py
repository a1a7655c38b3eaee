"""mixdl_anime10: MixDL on StyleGAN2 (config-f), 10-shot Anime Face at 256 px, the paper's settings.

Command:  python experiments/run.py --config=mixdl_anime10[:source=folder:PATH]
Data:     the FastGAN collection's anime faces (120 images), resized to 256; 10 images drawn at random (subset_seed 0,
          recorded in
          WORKDIR/subset.json) from `source` (default folder:data/anime_face; FID uses the whole folder).
Setting:  as mixdl_ffhq10 (official train_mixdl.py defaults: batch 4 = mixup N, Dir(1) in W, lambda_G 1000,
          lambda_D 1, mixup every 2nd step, patch D for mixups, R1 10/16 on the image logit, PL 2/4,
          EMA 0.99778), 120k steps.
Cost:     days on one GPU; not a CPU run.
Expected: FID 73.1 / LPIPS 0.548 (paper Table 1, StyleGAN2 + Ours, Anime Face).
Reduced:  :test runs the same code path at width 8, 32 px, 2 steps (tests/test_mixdl_presets.py).
Twin:     mixdl_anime10_nomixdl (plain StyleGAN2).
"""

from experiments.configs import _mixdl


def get_config(arg=None):
  return _mixdl.paper_preset("folder:data/anime_face", arg)
