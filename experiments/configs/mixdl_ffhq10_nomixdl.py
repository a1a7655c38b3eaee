"""mixdl_ffhq10_nomixdl: the twin of mixdl_ffhq10 without MixDL: the same backbone, data, seeds and
schedule, with both distance terms off and so no mixup steps (paper Table 5, row "none").

Command:  python experiments/run.py --config=mixdl_ffhq10_nomixdl[:args of mixdl_ffhq10]
Expected: FID 131.0 / LPIPS 0.574 at 100-shot (Table 5 'none'); no 10-shot figure.
Reduced:  :test (tests/test_mixdl_presets.py).
"""

from experiments.configs import _mixdl


def get_config(arg=None):
  return _mixdl.paper_preset("folder:data/ffhq_babies", arg, mixdl_on=False)
