"""Classification from a very small sample (COLA Sec. 6, App. B.3): ResNet-20 on real, generated and Mix.

For an sCOLA generator trained on the k-per-class subset:
  real       the k x C real images (the sCOLA training set);
  generated  `gen_per_class` sCOLA images per class, each drawn from its class Gaussian (Step III);
             the test accuracy of this classifier is the generator's Classification Accuracy Score
             (CAS, Ravuri & Vinyals 2019: train on generated, test on real);
  mix        every batch half real, half generated ("Mix": 50% real + 50% sCOLA images).
Each set trains the same ResNet-20 with the same schedule, whatever the sample size: SGD momentum 0.9,
batch 128, lr 0.1 x0.5 every 30 epochs, 180 epochs of `steps_per_epoch` steps, random crop (4-pixel
padding) and horizontal flip; weight decay 5e-4 [inferred, B.3 gives none]. The crop pads with `fill`,
-1 by default: black, i.e. 0 in uint8, which is what torchvision's RandomCrop(32, padding=4) pads CIFAR
with (B.3's "standard" crop) and Fashion-MNIST's background (85% of its border pixels are 0); 0 would be
mid-grey bars that no test image has. B.3 does not give the iterations per epoch, only that they are the
same for every sample size: the presets use one pass over the largest set of their study (8 = 1,000 /
128 for CIFAR-10 at up to 100 per class, 2 = 200 / 128 for the Fashion-MNIST CPU study at up to 20).
Accuracy on the held-out test set (config.classify.test_source). The trainer is fsgen.metrics.classifier.
`Evaluator` runs the protocol through fsgen.metrics.evaluate; loading a workdir is the caller's
(experiments/reproduce/cola.py uses fsgen.sample.load_sampler).
"""

from __future__ import annotations

import jax
import ml_collections
import numpy as np

from fsgen import optim
from fsgen.metrics import classifier
from fsgen.nets.resnet import ResNet20

MODES = ("real", "generated", "mix")


def default_config(**overrides) -> ml_collections.ConfigDict:
  """config.classify: the B.3 ResNet-20 schedule; steps_per_epoch fixed for every sample size."""
  c = dict(
    epochs=180,
    steps_per_epoch=8,
    batch_size=128,
    learning_rate=0.1,
    momentum=0.9,
    weight_decay=5e-4,
    halve_every_epochs=30,
    width=16,
    pad=4,
    fill=-1.0,
    flip=True,
    gen_per_class=500,
    test_source="",
    test_batch=500,
    seed=0,
  )
  c.update(overrides)
  return ml_collections.ConfigDict(c)


def optimizer(cfg):
  """The B.3 SGD: momentum, coupled weight decay, lr x0.5 every halve_every_epochs epochs of steps_per_epoch."""
  schedule = optim.halving(cfg.learning_rate, cfg.halve_every_epochs * cfg.steps_per_epoch)
  return optim.sgd(schedule, momentum=cfg.momentum, weight_decay=cfg.weight_decay)


def train_mode(key, cfg, num_classes: int, mode: str, *, real=None, generated=None) -> classifier.Classifier:
  """A ResNet-20 trained with the B.3 schedule on the `mode` set ("real", "generated" or "mix").

  real, generated: (images uint8 or float [N, H, W, C] in [-1, 1], labels int [N]) or None.
  """
  if mode not in MODES:
    raise ValueError(f"classifier mode must be one of {', '.join(MODES)}, got {mode!r}")
  pools = {"real": [real], "generated": [generated], "mix": [real, generated]}[mode]
  if any(p is None for p in pools):
    raise ValueError(f"classifier mode {mode!r} needs the {'real and generated' if mode == 'mix' else mode} set")
  return classifier.train(
    key,
    ResNet20(num_classes=num_classes, width=cfg.width),
    pools,
    steps=cfg.epochs * cfg.steps_per_epoch,
    batch_size=cfg.batch_size,
    tx=optimizer(cfg),
    augment=classifier.CropFlip(cfg.pad, cfg.fill, cfg.flip),
  )


def generate_per_class(sample_cluster, key, n_per_class: int, num_classes: int, chunk: int = 250):
  """(images float [C * n, H, W, C] in [-1, 1], labels int32 [C * n]): n images of each class from
  sample_cluster(key, m, c) (m <= chunk images of class c, e.g. sCOLA's class Gaussian)."""
  xs, ys = [], []
  for c in range(num_classes):
    for j, start in enumerate(range(0, n_per_class, chunk)):
      n = min(chunk, n_per_class - start)
      xs.append(np.asarray(sample_cluster(jax.random.fold_in(key, c * 10_000 + j), n, c)))
      ys.append(np.full((n,), c, np.int32))
  return np.concatenate(xs), np.concatenate(ys)


def test_data_config(train_data, source: str) -> ml_collections.ConfigDict:
  """The test set's data config: the training set's size and channels, all images of `source`."""
  d = ml_collections.ConfigDict(dict(train_data))
  d.source, d.shots, d.per_class, d.labels = source, 0, False, True
  return d


class Evaluator:
  """The Sec. 6 protocol as an evaluator: {mode: test accuracy in [0, 1]} for the modes asked for;
  "generated" is the CAS.

  Args:
    dataset: the k-per-class labelled training subset (fsgen.data.Dataset; the sCOLA training set).
    reference: the labelled test set, a Dataset or a data config (e.g. test_data_config(config.data,
      config.classify.test_source)).
    modes: a subset of MODES (a reproduction runs each mode as its own resumable cell).
    **cfg: keys of default_config (config.classify); `test_source` and `seed` are the caller's (the
      reference set, the key given to fsgen.metrics.evaluate).
  needs per-class samples: fsgen.metrics.Samplers attaches sample_fn.cluster(key, n, c).
  """

  needs = ("cluster",)

  def __init__(self, dataset, reference, modes=MODES, **cfg):
    if dataset.labels is None:
      raise ValueError("small_sample needs the labelled training subset (data.labels=True)")
    unknown = set(cfg) - set(default_config())
    if unknown:
      raise ValueError(f"small_sample: unknown option(s) {', '.join(sorted(unknown))}")
    bad = [m for m in modes if m not in MODES]
    if bad or not modes:
      raise ValueError(f"small_sample modes must be among {', '.join(MODES)}, got {modes!r}")
    if not hasattr(reference, "images"):
      from fsgen import data as fsdata  # pylint: disable=import-outside-toplevel

      reference = fsdata.load(dict(reference))
    if reference.labels is None:
      raise ValueError("small_sample needs a labelled test set (reference)")
    self.train_set, self.test_set = dataset, reference
    self.cfg, self.modes = default_config(**cfg), tuple(modes)
    self.num_classes = int(dataset.labels.max()) + 1

  def run(self, sample_fn, key) -> dict[str, float]:
    real = (self.train_set.images, self.train_set.labels)
    generated = None
    if any(m in ("generated", "mix") for m in self.modes):
      if not hasattr(sample_fn, "cluster"):
        raise ValueError("small_sample needs per-class samples: sample_fn.cluster(key, n, c)")
      generated = generate_per_class(
        sample_fn.cluster, jax.random.fold_in(key, 1), self.cfg.gen_per_class, self.num_classes
      )
    out = {}
    for mode in self.modes:
      k = jax.random.fold_in(key, 100 + MODES.index(mode))
      clf = train_mode(k, self.cfg, self.num_classes, mode, real=real, generated=generated)
      out[mode] = classifier.accuracy(clf, self.test_set.images, self.test_set.labels, self.cfg.test_batch)
    return out
