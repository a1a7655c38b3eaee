"""cola_stl10: unsupervised COLA on the labelled STL-10 images at 48x48 (paper Table 1), two stages.

Command:  python experiments/run.py --config=cola_stl10:stage=1 --workdir=runs/cola_stl10/step1
          python experiments/run.py --config=cola_stl10:stage=2 --workdir=runs/cola_stl10/step2
Data:     tfds:stl10 train split (the 5,000 labelled images; the 100K unlabelled ones are not used),
          downsampled from 96 to 48 px (needs `pip install fsgen[tfds]`).
Setting:  as cola_cifar10 (App. B.1-B.2): ResNet-18 Step I, 200 epochs; InfoGAN generator (FC to 12x12),
          d = 128, 500 epochs. The paper does not give the STL-10 input size for Step I: 48 px is used.
Cost:     16,000 Step-I steps and 20,000 Step-II steps of batch 128 at 48 px: GPU-scale.
Expected: paper Fig. 6 (plots only).
Reduced:  `test` switches to builtin:digits, tiny nets, 2 steps (see cola_cifar10).
"""

from experiments.configs import _cola


def get_config(arg=None):
  return _cola.stage_config(_cola.cola_args(arg), source="tfds:stl10", resolution=48, channels=3, name="cola_stl10")
