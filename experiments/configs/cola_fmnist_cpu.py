"""cola_fmnist_cpu: unsupervised COLA on 1,000 Fashion-MNIST images, sized for the 2-core CPU.

Command:  python experiments/run.py --config=cola_fmnist_cpu:stage=1 --workdir=runs/cola_fmnist_cpu/step1
          python experiments/run.py --config=cola_fmnist_cpu:stage=2 --workdir=runs/cola_fmnist_cpu/step2
          (seed s: add ,seed=s to the arg and use .../step1_seed{s}, .../step2_seed{s}; stage 2 reads
          config.init_from, default runs/cola_fmnist_cpu/step1[_seed{s}])
Data:     ../shared/data/fashion_mnist (train split, found by experiments.configs.shared_data), a random
          subset of 1,000 images (data.subset_seed = seed), 28x28x1. Labels are only used for the logged
          E/cluster_acc (Hungarian-matched clustering accuracy), never for training.
Setting:  App. B.1-B.2 scaled down: ResNet-18 at width 16 (1/4), 20 COLA epochs (assignment + rotation)
          with lr x0.5 every 5 of them, ending at 0.05 / 8 as the paper's 200 / 50 does; InfoGAN
          generator (width 64), d = 64, Laplacian loss, 60 epochs with lrs x0.5 every 15.
Cost:     measured at load average ~3.5 on the shared 2-core CPU: stage 1, 20 x 2 x 8 = 320 steps
          (assignment 0.64 s, rotation 1.77 s per step), ~7 min; stage 2, 60 x 8 = 480 steps of 0.46 s
          (+ 0.04 s epoch-end phase), ~4 min; ~12 min per seed with compilation (~2.5x that at load 9).
Expected: E/cluster_acc above chance (0.144 +- 0.005 for Hungarian-matched random labels on these
          1,000 images); a short check (seed 0) reached 0.21, 0.27, 0.39, 0.45 after assignment
          epochs 1-4 of 20.
Reduced:  `test` switches to builtin:digits, tiny nets, 2 steps (see cola_cifar10).
"""

from experiments.configs import _cola


def get_config(arg=None):
  args = _cola.cola_args(arg)
  return _cola.stage_config(
    args,
    source=_cola.FMNIST,
    resolution=28,
    channels=1,
    name="cola_fmnist_cpu",
    latent_dim=64,
    width=16,
    enc_epochs=20,
    gen_epochs=60,
    halve_every=5 if args.stage == 1 else 15,
    shots=1000,
  )
