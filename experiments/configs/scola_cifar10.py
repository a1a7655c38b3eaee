"""scola_cifar10: sCOLA on k labelled CIFAR-10 images per class, for the small-sample classification of
paper Sec. 6 (Table 2). The named presets scola_cifar10_{5,10,20,50,100}spc fix k; `spc=K` sets any k.

Command:  python experiments/run.py --config=scola_cifar10_20spc --workdir=runs/scola_cifar10_20spc
          then the classifiers: python experiments/reproduce/cola.py --classify=runs/scola_cifar10_20spc
Data:     tfds:cifar10 train split, k images per class chosen by data.subset_seed = seed (3 subsets in the
          paper); test accuracy on tfds:cifar10 test (needs `pip install fsgen[tfds]`).
Setting:  App. B.2: one-hot class parts, InfoGAN generator, d = 64, Laplacian-pyramid loss, Adam 1e-3 (G)
          / 1e-2 (codes), x0.5 every 50 epochs, 500 epochs, batch min(128, 10k). Classification (B.3):
          ResNet-20, SGD 0.1 x0.5 every 30 epochs, 180 epochs of 8 steps (= one pass over the 100-spc set,
          the same for every k), batch 128, crop (padded with black) + flip; 1,000 generated images per
          class [inferred].
Cost:     500-4,000 generator steps of batch <= 128 and 3 x 1,440 classifier steps: GPU minutes.
Expected: Mix accuracy (paper Table 2): 29.05 (5), 42.86 (10), 49.63 (20), 54.51 (50), 58.59 (100).
Reduced:  `test` switches the source to builtin:digits (2 per class, 16 px, no download), tiny nets, 2 steps.
"""

from experiments.configs import _cola


def get_config(arg=None):
  return _cola.scola_cifar10(arg)
