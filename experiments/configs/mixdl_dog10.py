"""mixdl_dog10: MixDL on StyleGAN2 (config-f), 10-shot Animal-Face Dog at 256 px, the paper's settings.

Command:  python experiments/run.py --config=mixdl_dog10[:source=folder:PATH]
Data:     Animal-Face Dog from the FastGAN collection (389 images), resized to 256; 10 images drawn at random
          (subset_seed 0, recorded in
          WORKDIR/subset.json) from `source` (default folder:data/animal_face_dog; FID uses the whole folder).
Setting:  as mixdl_ffhq10 (official train_mixdl.py defaults: batch 4 = mixup N, Dir(1) in W, lambda_G 1000,
          lambda_D 1, mixup every 2nd step, patch D for mixups, R1 10/16 on the image logit, PL 2/4,
          EMA 0.99778), 120k steps.
Cost:     days on one GPU; not a CPU run.
Expected: FID 96.0 / LPIPS 0.682 (paper Table 1, StyleGAN2 + Ours, Animal-Face Dog).
Reduced:  :test runs the same code path at width 8, 32 px, 2 steps (tests/test_mixdl_presets.py).
Twin:     mixdl_dog10_nomixdl (plain StyleGAN2).
"""

from experiments.configs import _mixdl


def get_config(arg=None):
  return _mixdl.paper_preset("folder:data/animal_face_dog", arg)
