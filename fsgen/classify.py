"""Classification from a very small sample (COLA Sec. 6, App. B.3): ResNet-20 on real, generated and Mix.

Protocol, for a trained `scola` workdir whose config.data is the k-per-class subset:
  real       the k x C real images (the sCOLA training set);
  generated  `gen_per_class` sCOLA images per class, each drawn from its class Gaussian (Step III);
             the test accuracy of this classifier is the generator's Classification Accuracy Score
             (CAS, Ravuri & Vinyals 2019: train on generated, test on real);
  mix        every batch half real, half generated ("Mix": 50% real + 50% sCOLA images).
Each set trains the same ResNet-20 with the same schedule, whatever the sample size: SGD momentum 0.9,
batch 128, lr 0.1 x0.5 every 30 epochs, 180 epochs of `steps_per_epoch` steps, random crop (4-pixel zero
padding) and horizontal flip; weight decay 5e-4 [inferred, B.3 gives none]. Accuracy on the held-out test
set named by config.classify.test_source.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from fsgen import checkpoint, methods
from fsgen import data as fsdata
from fsgen.data.batches import draw_indices
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
    flip=True,
    gen_per_class=500,
    test_source="",
    test_batch=500,
    seed=0,
  )
  c.update(overrides)
  return ml_collections.ConfigDict(c)


def crop_flip(key, x, pad: int, flip: bool):
  """Standard augmentation of x [B, H, W, C]: random crop after zero padding by `pad`, random h-flip."""
  b, h, w, c = x.shape
  ky, kx, kf = jax.random.split(key, 3)
  if pad:
    padded = jnp.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    oy = jax.random.randint(ky, (b,), 0, 2 * pad + 1)
    ox = jax.random.randint(kx, (b,), 0, 2 * pad + 1)
    x = jax.vmap(lambda im, y0, x0: jax.lax.dynamic_slice(im, (y0, x0, 0), (h, w, c)))(padded, oy, ox)
  if flip:
    x = jnp.where(jax.random.bernoulli(kf, 0.5, (b, 1, 1, 1)), x[:, :, ::-1, :], x)
  return x


def train_classifier(key, cfg, num_classes: int, *, real=None, generated=None, mode: str = "real"):
  """Trains a ResNet-20 and returns (model, variables).

  Args:
    key: PRNG key.
    cfg: config.classify (see default_config).
    real, generated: (images float [N, H, W, C] in [-1, 1], labels int [N]) or None.
    mode: "real", "generated" or "mix" (half of every batch from each set).
  """
  if mode not in MODES:
    raise ValueError(f"classifier mode must be one of {', '.join(MODES)}, got {mode!r}")
  pools = {"real": [real], "generated": [generated], "mix": [real, generated]}[mode]
  if any(p is None for p in pools):
    raise ValueError(f"classifier mode {mode!r} needs the {'real and generated' if mode == 'mix' else mode} set")
  pools = [(jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.int32)) for x, y in pools]
  shares = [cfg.batch_size // len(pools)] * len(pools)
  shares[0] += cfg.batch_size - sum(shares)
  model = ResNet20(num_classes=num_classes, width=cfg.width)
  ki, kt = jax.random.split(key)
  variables = model.init(ki, pools[0][0][:1], train=False)
  schedule = optax.exponential_decay(
    cfg.learning_rate, cfg.halve_every_epochs * cfg.steps_per_epoch, 0.5, staircase=True
  )
  tx = optax.chain(optax.add_decayed_weights(cfg.weight_decay), optax.sgd(schedule, momentum=cfg.momentum))
  state = {"params": variables["params"], "batch_stats": variables["batch_stats"], "opt": tx.init(variables["params"])}

  @jax.jit
  def step(state, pools, key):
    xs, ys = [], []
    for i, ((x, y), b) in enumerate(zip(pools, shares)):
      idx = draw_indices(jax.random.fold_in(key, i), x.shape[0], b)
      xs.append(x[idx])
      ys.append(y[idx])
    x = crop_flip(jax.random.fold_in(key, 99), jnp.concatenate(xs), cfg.pad, cfg.flip)
    y = jnp.concatenate(ys)

    def loss_fn(p):
      logits, upd = model.apply(
        {"params": p, "batch_stats": state["batch_stats"]}, x, train=True, mutable=["batch_stats"]
      )
      return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean(), upd["batch_stats"]

    (loss, bs), g = jax.value_and_grad(loss_fn, has_aux=True)(state["params"])
    updates, opt = tx.update(g, state["opt"], state["params"])
    return {"params": optax.apply_updates(state["params"], updates), "batch_stats": bs, "opt": opt}, loss

  for s in range(cfg.epochs * cfg.steps_per_epoch):
    state, loss = step(state, pools, jax.random.fold_in(kt, s))
  if not np.isfinite(float(loss)):
    raise FloatingPointError(f"classifier ({mode}) loss is not finite at the last step")
  return model, {"params": state["params"], "batch_stats": state["batch_stats"]}


@functools.partial(jax.jit, static_argnums=0)
def _predict(model, variables, x):
  return jnp.argmax(model.apply(variables, x, train=False), -1)


def accuracy(model, variables, images, labels, batch: int = 500) -> float:
  """Top-1 accuracy on images (uint8 [N, H, W, C] or float in [-1, 1]) with labels int [N].

  The last batch is padded to `batch` so one compiled program serves every batch.
  """
  hits = 0
  for i in range(0, len(images), batch):
    x = images[i : i + batch]
    x = fsdata.to_float(jnp.asarray(x)) if x.dtype == np.uint8 else jnp.asarray(x, jnp.float32)
    n = x.shape[0]
    if n < batch and len(images) > batch:
      x = jnp.concatenate([x, jnp.zeros((batch - n,) + x.shape[1:], x.dtype)])
    hits += int(jnp.sum(_predict(model, variables, x)[:n] == jnp.asarray(labels[i : i + n])))
  return hits / len(images)


def generate_per_class(method, params, key, n_per_class: int, num_classes: int, chunk: int = 250):
  """(images float [C * n, H, W, C] in [-1, 1], labels int32 [C * n]) from each class's Gaussian."""
  sample = jax.jit(method.sample_cluster, static_argnums=(2, 3))
  xs, ys = [], []
  for c in range(num_classes):
    for j, start in enumerate(range(0, n_per_class, chunk)):
      n = min(chunk, n_per_class - start)
      xs.append(np.asarray(sample(params, jax.random.fold_in(key, c * 10_000 + j), n, c)))
      ys.append(np.full((n,), c, np.int32))
  return np.concatenate(xs), np.concatenate(ys)


def load_generator(workdir):
  """(method, sampling params, config) of a trained cola/scola workdir (its latest checkpoint)."""
  state, config = checkpoint.restore_raw(workdir)
  config = ml_collections.ConfigDict(config)
  method = methods.build(config)
  params = jax.tree.map(jnp.asarray, method.sampling_params(state))
  return method, params, config


def run(workdir, cfg=None, modes=MODES) -> dict[str, float]:
  """The Sec. 6 protocol on a trained `scola` workdir: {mode: test accuracy}; "generated" is the CAS.

  cfg defaults to the workdir config's `classify` section.
  """
  method, params, config = load_generator(workdir)
  cfg = cfg or config.classify
  if not cfg.test_source:
    raise ValueError("config.classify.test_source is empty: name the held-out test set (e.g. idx:DIR:t10k)")
  train = fsdata.load(config.data)
  num_classes = config.cola.clusters
  test = fsdata.load(fsdata_config(config.data, cfg.test_source))
  key = jax.random.key(cfg.seed)
  real = (np.asarray(fsdata.to_float(jnp.asarray(train.images))), train.labels)
  generated = None
  if any(m in ("generated", "mix") for m in modes):
    generated = generate_per_class(method, params, jax.random.fold_in(key, 1), cfg.gen_per_class, num_classes)
  out = {}
  for i, mode in enumerate(modes):
    model, variables = train_classifier(
      jax.random.fold_in(key, 100 + i), cfg, num_classes, real=real, generated=generated, mode=mode
    )
    out[mode] = accuracy(model, variables, test.images, test.labels, cfg.test_batch)
  return out


def fsdata_config(train_data, source: str) -> ml_collections.ConfigDict:
  """The test set's data config: the training set's size and channels, all images of `source`."""
  d = ml_collections.ConfigDict(dict(train_data))
  d.source, d.shots, d.per_class, d.labels = source, 0, False, True
  return d
