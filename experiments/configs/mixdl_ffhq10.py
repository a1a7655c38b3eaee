"""mixdl_ffhq10: MixDL on StyleGAN2 (config-f), 10-shot FFHQ-babies at 256 px, the paper's settings.

Command:  python experiments/run.py --config=mixdl_ffhq10[:source=folder:PATH]
Data:     FFHQ-babies (CDC's Babies set; "FFHQ" in MixDL always means babies), 10 images drawn at random
          (subset_seed 0, recorded in WORKDIR/subset.json) from `source`: default folder:data/ffhq_babies;
          any `folder:`/`tfds:NAME[:SPLIT]` source works (e.g. :source=tfds:my_ffhq_babies).
Setting:  paper Sec. 3-4 / official train_mixdl.py: StyleGAN2 config-f 256 px, batch 4 = mixup N, Adam
          0.002 with lazy scaling, R1 10 every 16 on the image logit on ordinary steps (the paper-era
          code; mixdl.r1_target=patch is the official HEAD's), path length 2 every 4, style mixing 0.9,
          EMA 0.99778, C ~ Dir(1), mixing in W, lambda_G 1000, lambda_D 1, mixup every 2nd step, patch D
          for mixups, no augmentation, 120k steps (480 kimg, the official README).
Cost:     days on one GPU; not a CPU run (use mixdl_anime10_cpu / mixdl_panda10_cpu).
Expected: FID 83.4 / LPIPS 0.643 (paper Table 2, FFHQ-babies 10-shot, best checkpoint of a sweep).
Reduced:  :test runs the same code path at width 8, 32 px, 2 steps (tests/test_mixdl_presets.py).
Twin:     mixdl_ffhq10_nomixdl (plain StyleGAN2, Table 5 "none").
"""

from experiments.configs import _mixdl


def get_config(arg=None):
  return _mixdl.paper_preset("folder:data/ffhq_babies", arg)
