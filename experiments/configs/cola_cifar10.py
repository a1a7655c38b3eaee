"""cola_cifar10: unsupervised COLA on CIFAR-10 (paper Sec. 5, App. B.1-B.2), in two chained stages.

Command:  python experiments/run.py --config=cola_cifar10:stage=1 --workdir=runs/cola_cifar10/step1
          python experiments/run.py --config=cola_cifar10:stage=2 --workdir=runs/cola_cifar10/step2
          (stage 2 reads stage 1 through config.init_from, default runs/cola_cifar10/step1)
Data:     tfds:cifar10 train split, 50,000 images at 32x32x3 (needs `pip install fsgen[tfds]`).
Setting:  Step I (`cola_encoder`): ResNet-18, K = 10 one-hot GMM targets, per-batch Hungarian, one
          augmented view, SGD 0.05 momentum 0.9 wd 5e-4 (not on 1-D params, as MMDC), batch 128 (512
          rotated), 200 epochs of assignment + rotation (400 loop epochs), lr x0.5 every 50 of them.
          Steps II/III (`cola`): InfoGAN generator, d = 128 (the full-data setting), Adam 1e-3 (G) /
          1e-2 (Z), x0.5 every 50 epochs, 500 epochs; Laplacian loss by default, the paper's VGG
          perceptual loss with arg `perceptual` (needs fsgen.nets.lpips).
Cost:     GPU-scale: 156,400 Step-I steps and 195,500 Step-II steps; not meant for the 2-core CPU.
Expected: paper Fig. 4-6 (plots only); clustering accuracy of Step I is logged as E/cluster_acc.
Reduced:  `test` switches the source to builtin:digits (no download), tiny nets, 2 steps; stage 2 then
          needs --config.init_from=<the stage-1 test workdir>.
"""

from experiments.configs import _cola


def get_config(arg=None):
  return _cola.stage_config(_cola.cola_args(arg), source="tfds:cifar10", resolution=32, channels=3, name="cola_cifar10")
