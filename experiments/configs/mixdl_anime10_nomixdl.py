"""mixdl_anime10_nomixdl: the twin of mixdl_anime10 without MixDL: the same backbone, data, seeds and
schedule, with both distance terms off and so no mixup steps (paper Table 5, row "none").

Command:  python experiments/run.py --config=mixdl_anime10_nomixdl[:args of mixdl_anime10]
Expected: FID 166.0 / LPIPS 0.363 (Table 1, StyleGAN2).
Reduced:  :test (tests/test_mixdl_presets.py).
"""

from experiments.configs import _mixdl


def get_config(arg=None):
  return _mixdl.paper_preset("folder:data/anime_face", arg, mixdl_on=False)
