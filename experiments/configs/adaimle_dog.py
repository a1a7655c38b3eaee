"""adaimle_dog: Adaptive IMLE on AnimalFace Dog, 256x256, the official code's settings.

Command:  python experiments/run.py --config=adaimle_dog:data_root=DATASETS
Data:     DATASETS/dog/img/* (389 images; the official ./datasets/<name>/img layout), resized to 256 px,
          no augmentation.
Setting:  official `--hps fewshot` generator (1024-d z, 8-layer mapping, 28 blocks of width 384, spatial
          noise 1..256 px); L = LPIPS-VGG + 0.1 pixel MSE; pool 100 x n; gamma 0.01, staleness 5, force_resample 15;
          AdamW(lr 0.0001, betas 0.9/0.9, wd 0.01), 100-step warm-up, batch 4, EMA 0.9999; train-set
          FID of 5n samples from the raw model (the official protocol) every 2,500 steps.
Cost:     GPU only: the official run took ~0.34 s/iteration plus ~100 s per pool on 2x RTX 3090; 70k steps.
Reduced:  --config=adaimle_dog:test runs 2 steps on 16 px digits (used by the tests).
"""

from experiments.configs import _adaptive_imle


def get_config(arg=None):
  return _adaptive_imle.paper_config("dog", arg, adaptive=True)
