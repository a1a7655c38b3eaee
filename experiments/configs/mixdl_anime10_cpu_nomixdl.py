"""mixdl_anime10_cpu_nomixdl: the twin of mixdl_anime10_cpu without MixDL: the same backbone, data, seeds and
schedule, with both distance terms off and so no mixup steps (paper Table 5, row "none").

Command:  python experiments/run.py --config=mixdl_anime10_cpu_nomixdl[:args of mixdl_anime10_cpu]
Expected: see experiments/reproduce/mixdl.py.
Reduced:  :test (tests/test_mixdl_presets.py).
"""

from experiments.configs import _mixdl, shared_data


def get_config(arg=None):
  return _mixdl.cpu_preset(shared_data("anime10", "img"), arg, mixdl_on=False)
