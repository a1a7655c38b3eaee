"""`cola_encoder`: COLA Step I, clustering the latent space without labels (paper Algorithm 2, App. B.1).

Every image i holds a target t_i on the unit sphere of R^K, drawn once from a K-component GMM
(means one-hot or U(-0.1, 0.1), covariance sigma I, each sample L2-normalised). A dual-head ResNet-18
E = (E1, E2) is trained in alternating epochs:
  assignment epoch, per batch b: (1) E1 on the un-augmented batch (BN in inference mode, as MMDC does)
    and the Hungarian solution of Eq. 2 over the targets the batch holds (scipy via pure_callback);
    (2) an SGD step on mean_j sum_views ||E1(xi(x_j)) - t_pi(j)||^2 over augmented views xi (crop, flip,
    colour jitter); (3) the permuted targets are written back into the table.
  rotation epoch, per batch: each image at 0/90/180/270 degrees (4B images), cross-entropy of E2.
One COLA "epoch" is one assignment epoch then one rotation epoch, each ceil(N / B) steps of batches drawn
at random (a batch never repeats an image: B > N is refused, since the Hungarian permutation written back
with duplicated indices would duplicate or lose targets). SGD(0.05, momentum 0.9), weight decay 5e-4, lr
x0.5 every 50 epochs (B.1). Both passes step one optimizer, so a COLA epoch is 2 ceil(N / B) of its
updates and the halving interval counts those (logged as E/assign_lr, E/rot_lr); weight decay spares
one-dimensional parameters (biases, batch-norm scales and offsets) as MMDC's code does
(optim.E.decay_vectors=True decays them too, torch's default).
Output in state["extra"]: `targets` [N, K] and `means` [K, K]; the cluster label of image i is
argmin_c ||t_i - mu_c|| (fsgen.losses.assignment.cluster_labels). With labelled data the phase also logs the
Hungarian-matched clustering accuracy of these labels (E/cluster_acc; labels are never trained on).
Phases "assign" (even loop epochs) and "rotation" (odd ones) are scheduled with Phase(every=2 x ceil(N/B)).
Config: config.cola_encoder.{clusters, means, sigma, squared_cost, views, crop, jitter, grayscale_p,
preview}, config.model.E.width, config.optim.E.{learning_rate, momentum, weight_decay, decay_vectors,
halve_every_epochs}.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_collections
import optax

from fsgen import configs, optim
from fsgen.data.batches import draw_indices
from fsgen.data.crop_flip import random_flip
from fsgen.data.preprocess import to_float
from fsgen.losses.assignment import assign_targets, cluster_labels, matched_accuracy
from fsgen.methods.base import Method as BaseMethod
from fsgen.methods.base import Phase
from fsgen.nets.apply import apply_net
from fsgen.nets.resnet import ResNet18Encoder
from fsgen.parallel import shard_batch
from fsgen.update import gradient_step


def default_config() -> ml_collections.ConfigDict:
  """Step I on CIFAR-10 as in App. B.1 (ResNet-18, batch 128, 200 epochs of SGD)."""
  c = configs.loop_defaults()
  c.method = "cola_encoder"
  c.data = configs.data_defaults()
  c.batch_size = 128
  c.model = dict(E=dict(width=64))
  c.optim = dict(
    E=dict(learning_rate=0.05, momentum=0.9, weight_decay=5e-4, decay_vectors=False, halve_every_epochs=50)
  )
  c.cola_encoder = dict(
    clusters=10,
    means="one_hot",
    sigma=0.0,
    squared_cost=True,
    views=1,
    crop=0.75,
    jitter=0.4,
    grayscale_p=0.2,
    preview=64,
  )
  return c


def sgd(cfg, schedule) -> optax.GradientTransformation:
  """B.1's SGD: momentum, coupled weight decay (as torch.optim.SGD; 1-D parameters spared unless
  cfg.decay_vectors), learning rate `schedule`."""
  return optim.sgd(
    schedule, momentum=cfg.momentum, weight_decay=cfg.weight_decay, decay_vectors=cfg.get("decay_vectors", True)
  )


def gmm_targets(key, n: int, k: int, *, means: str = "one_hot", sigma: float = 0.0):
  """Algorithm 2 initial matching: (targets [n, k] unit vectors, means [k, k] unit vectors).

  c ~ Categorical(1/k), v ~ N(mu_c, sigma I_k) (sigma is the variance), t = v / ||v||.
  """
  km, kc, kv = jax.random.split(key, 3)
  if means == "one_hot":
    mu = jnp.eye(k)
  elif means == "uniform":
    mu = jax.random.uniform(km, (k, k), minval=-0.1, maxval=0.1)
    mu = mu / jnp.linalg.norm(mu, axis=-1, keepdims=True)
  else:
    raise ValueError(f"cola_encoder.means must be 'one_hot' or 'uniform', got {means!r}")
  c = jax.random.randint(kc, (n,), 0, k)
  v = mu[c] + jnp.sqrt(sigma) * jax.random.normal(kv, (n, k))
  return v / jnp.linalg.norm(v, axis=-1, keepdims=True), mu


def augment(key, x, *, crop: float, jitter: float, grayscale_p: float):
  """Consistency views of x [B, H, W, C] in [-1, 1]: random crop of `crop` x side resized back, horizontal
  flip, brightness/contrast(/saturation for RGB) jitter of strength `jitter`, random grayscale (RGB)."""
  b, h, w, ch = x.shape
  kc, kf, kb, kk, ks, kg = jax.random.split(key, 6)
  x = (x + 1.0) / 2.0
  if crop < 1.0:
    sh, sw = max(1, round(h * crop)), max(1, round(w * crop))
    oy = jax.random.randint(kc, (b,), 0, h - sh + 1)
    ox = jax.random.randint(jax.random.fold_in(kc, 1), (b,), 0, w - sw + 1)
    cut = jax.vmap(lambda im, y0, x0: jax.lax.dynamic_slice(im, (y0, x0, 0), (sh, sw, ch)))(x, oy, ox)
    x = jax.image.resize(cut, (b, h, w, ch), "bilinear")
  x = random_flip(kf, x)
  if jitter > 0:
    u = lambda k: jax.random.uniform(k, (b, 1, 1, 1), minval=1 - jitter, maxval=1 + jitter)
    x = x * u(kb)
    mean = x.mean(axis=(1, 2, 3), keepdims=True)
    x = (x - mean) * u(kk) + mean
    if ch == 3:
      gray = x.mean(axis=-1, keepdims=True)
      x = (x - gray) * u(ks) + gray
  if ch == 3 and grayscale_p > 0:
    g = jax.random.bernoulli(kg, grayscale_p, (b, 1, 1, 1))
    x = jnp.where(g, x.mean(axis=-1, keepdims=True), x)
  return jnp.clip(x, 0.0, 1.0) * 2.0 - 1.0


def rotations(x):
  """x [B, H, H, C] -> ([4B, H, H, C] rotated by 0, 90, 180, 270 degrees, labels int32 [4B])."""
  rots = [jnp.rot90(x, k, axes=(1, 2)) for k in range(4)]
  labels = jnp.repeat(jnp.arange(4, dtype=jnp.int32), x.shape[0])
  return jnp.concatenate(rots), labels


class Method(BaseMethod):
  def __init__(self, config, info):
    super().__init__(config, info)
    self.hp = config.cola_encoder
    self.E = self.mixed(
      ResNet18Encoder(
        embed_dim=self.hp.clusters, width=config.model.E.width, blocks=tuple(config.model.E.get("blocks", (2, 2, 2, 2)))
      )
    )
    self.batch_size = config.batch_size
    if info.batch_size > info.num_images:
      raise ValueError(
        f"cola_encoder: config.batch_size={info.batch_size} exceeds the {info.num_images} training images; "
        f"the per-batch assignment needs distinct images (use batch_size <= {info.num_images})"
      )
    # One optimizer steps in both passes: a COLA epoch (assignment + rotation) is 2 ceil(N / B) updates.
    self.updates_per_epoch = 2 * info.steps_per_epoch
    self.lr = optim.halving(config.optim.E.learning_rate, config.optim.E.halve_every_epochs * self.updates_per_epoch)
    self.txs = {"E": sgd(config.optim.E, self.lr)}

  def _lr_now(self, state):
    """The learning rate of the optimizer's next update (its own update count through the schedule)."""
    return self.lr(optax.tree_utils.tree_get(state["opt"]["E"], "count"))

  def init(self, key, data, prior=None):
    del prior  # Step I is the first stage.
    images = data["images"]
    n, h, w, c = images.shape
    if h != w:
      raise ValueError(f"cola_encoder needs square images for the rotation task, got {h}x{w}")
    ke, kt = jax.random.split(key)
    variables = self.E.init(ke, jnp.zeros((1, h, w, c)), train=False)
    targets, means = gmm_targets(kt, n, self.hp.clusters, means=self.hp.means, sigma=self.hp.sigma)
    p = min(n, self.hp.preview)
    return {
      "params": {"E": variables["params"]},
      "opt": {"E": self.txs["E"].init(variables["params"])},
      "ema": {},
      "batch_stats": {"E": variables["batch_stats"]},
      "extra": {
        "targets": targets,
        "means": means,
        "preview": images[:p],
        "preview_idx": jnp.arange(p, dtype=jnp.int32),
      },
    }

  def assign_step(self, state, data, key):
    """One batch of the assignment epoch: Hungarian (Eq. 2), consistency SGD step, table update."""
    ki, kv = jax.random.split(key)
    n = data["images"].shape[0]
    idx = draw_indices(ki, n, self.batch_size)
    x = shard_batch(to_float(data["images"][idx]))
    targets = state["extra"]["targets"]
    (emb, _), _ = apply_net(self.E, state["params"]["E"], state["batch_stats"]["E"], x, train=False)
    t_b = targets[idx]
    perm = assign_targets(emb, t_b, squared=self.hp.squared_cost)
    t_new = t_b[perm]
    views = [
      augment(jax.random.fold_in(kv, v), x, crop=self.hp.crop, jitter=self.hp.jitter, grayscale_p=self.hp.grayscale_p)
      for v in range(self.hp.views)
    ]
    xa = shard_batch(jnp.concatenate(views))
    ta = jnp.tile(t_new, (self.hp.views, 1))

    def loss_fn(p):
      (e, _), bs = apply_net(self.E, p, state["batch_stats"]["E"], xa, train=True)
      loss = jnp.mean(jnp.sum((e - ta) ** 2, axis=-1))
      return loss, {"E/assign_loss": loss}, bs

    new, metrics, bs = gradient_step(state, "E", self.txs, loss_fn, has_aux=True)
    metrics["E/assign_lr"] = self._lr_now(state)
    extra = {**new["extra"], "targets": targets.at[idx].set(t_new)}
    metrics["E/reassigned"] = jnp.mean((perm != jnp.arange(perm.shape[0])).astype(jnp.float32))
    return {**new, "extra": extra, "batch_stats": {"E": bs}}, metrics

  def rotation_step(self, state, data, key):
    """One batch of the RotNet epoch: 4 rotations per image, cross-entropy of the rotation head."""
    n = data["images"].shape[0]
    x = to_float(data["images"][draw_indices(key, n, self.batch_size)])
    xr, labels = rotations(x)
    xr, labels = shard_batch(xr), shard_batch(labels)

    def loss_fn(p):
      (_, logits), bs = apply_net(self.E, p, state["batch_stats"]["E"], xr, train=True)
      loss = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
      acc = jnp.mean((jnp.argmax(logits, -1) == labels).astype(jnp.float32))
      return loss, {"E/rot_loss": loss, "E/rot_acc": acc}, bs

    new, metrics, bs = gradient_step(state, "E", self.txs, loss_fn, has_aux=True)
    metrics["E/rot_lr"] = self._lr_now(state)
    return {**new, "batch_stats": {"E": bs}}, metrics

  def assign_phase(self, state, data, key):
    new, metrics = self.assign_step(state, data, key)
    if "labels" in data:
      labels = cluster_labels(new["extra"]["targets"], new["extra"]["means"])
      k = self.hp.clusters
      metrics["E/cluster_acc"] = matched_accuracy(labels, data["labels"], k, k)
    return new, metrics

  def phases(self):
    # Two phases on alternate epochs, scheduled in Python (a lax.cond choosing the pass inside one jitted
    # phase ran 5-9x slower on XLA:CPU: ops inside a conditional run on one thread).
    spe = self.info.steps_per_epoch
    return [
      Phase("assign", self.assign_phase, every=2 * spe, offset=0, length=spe),
      Phase("rotation", self.rotation_step, every=2 * spe, offset=spe, length=spe),
    ]

  def sampling_params(self, state):
    """A preview grid, not samples: the first training images with their current cluster labels."""
    extra = state["extra"]
    return {
      "preview": extra["preview"],
      "cluster": cluster_labels(extra["targets"][extra["preview_idx"]], extra["means"]),
    }

  def sample(self, params, key, n):
    """[n, H, W, C] in [-1, 1]: preview images sorted by cluster (Step I has no generator)."""
    del key
    order = jnp.argsort(params["cluster"], stable=True)
    return to_float(params["preview"][order[jnp.arange(n) % order.shape[0]]])
