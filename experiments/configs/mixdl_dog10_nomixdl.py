"""mixdl_dog10_nomixdl: the twin of mixdl_dog10 without MixDL: the same backbone, data, seeds and
schedule, with both distance terms off and so no mixup steps (paper Table 5, row "none").

Command:  python experiments/run.py --config=mixdl_dog10_nomixdl[:args of mixdl_dog10]
Expected: FID 177.5 / LPIPS 0.569 (Table 1 / Table 5 'none').
Reduced:  :test (tests/test_mixdl_presets.py).
"""

from experiments.configs import _mixdl


def get_config(arg=None):
  return _mixdl.paper_preset("folder:data/animal_face_dog", arg, mixdl_on=False)
