"""scola_fmnist_cpu: sCOLA on k labelled Fashion-MNIST images per class, sized for the 2-core CPU (the
small-sample classification of paper Sec. 6). Named presets: scola_fmnist_{5,10,20}spc_cpu.

Command:  python experiments/run.py --config=scola_fmnist_20spc_cpu --workdir=runs/scola_fmnist_20spc_cpu
          (all sizes, 3 seeds and the classifiers: python experiments/reproduce/cola.py)
Data:     ../shared/data/fashion_mnist (experiments.configs.shared_data), k images per class chosen by
          data.subset_seed = seed, 28x28x1; test accuracy on the 10,000 t10k images.
Setting:  the paper's Step II (B.2) unchanged: one-hot class parts, InfoGAN generator (width 64),
          d = 64, Laplacian-pyramid loss, Adam 1e-3 / 1e-2, x0.5 every 50 epochs, 500 epochs, batch
          min(128, 10k). Classification: ResNet-20 with the B.3 schedule (180 epochs, lr 0.1 x0.5 every
          30, batch 128, crop padded with black + flip) at 2 steps per epoch for every k (one pass over
          the largest set of the study, 20 x 10 images, as scola_cifar10's 8 is one pass over 100 x 10;
          B.3 does not give the number), i.e. 360 steps, and 500 generated images per class.
Cost:     measured at load average ~3.5 on the shared 2-core CPU: generator 500 steps of 0.26 s (5 spc),
          500 of 0.34 s (10 spc), 1,000 of 0.37 s (20 spc) + a 0.04 s epoch-end phase: 2.5-7 min per
          seed (~2.5x that at load 9); the three classifiers (3 x 360 steps of ~1 s) add ~18 min in
          experiments/reproduce/cola.py.
Expected: Mix >= real-only accuracy at 5-20 images per class (the paper's claim on CIFAR-10).
Reduced:  `test` switches the source to builtin:digits (2 per class, 16 px), tiny nets, 2 steps.
"""

from experiments.configs import _cola


def get_config(arg=None):
  return _cola.scola_fmnist_cpu(arg)
