"""`cola`: COLA Steps II and III, the generator with one learnable code per image, then per-cluster
Gaussians to sample from (paper Sec. 3, Algorithm 1, App. B.2).

Step II (GLO-style). z_i = (t_i/||t_i||, v_i/||v_i||) in R^(K+d): t_i is image i's Step-I target (from
the `cola_encoder` workdir named by config.init_from) and v_i ~ N(0, sigma I_d). G and the code table Z
[N, K+d] are optimised jointly on mean_i L_rec(G(z_i), x_i) (Eq. 3), with Adam 1e-3 for G and 1e-2 for Z,
both x0.5 every 50 epochs; L_rec is the Laplacian-pyramid loss (Eq. 5) or, for full data, the
perceptual loss of Eq. 4 (ImageNet VGG16 of fsgen.nets.lpips, weights from the fsgen.assets entry
"lpips_vgg", kept frozen in state["frozen"]). An epoch is ceil(N / B) steps of randomly drawn batches.
Epoch end (gradient-free phase "epoch_end", Algorithm 1): t and v are re-normalised to their unit spheres
(each block separately, so ||z_i|| = sqrt(2)), then Step III refits one Gaussian per cluster.
Clusters stay those of Step I (sCOLA: the class labels) although t moves in Step II: the paper fits "a
Gaussian to each cluster" and defines the clusters in Step I only, and for sCOLA a class must not change.
The phase logs Z/label_drift, the fraction of codes whose class part is now nearer another cluster's mean
than its own, so a run shows whether freezing matters (a refit would move exactly those codes).
Step III. For cluster c: mean and covariance (+ ridge I, the class covariance is singular at 5 images
per class) of its codes; `sample` draws from the uniform mixture, `sample_cluster` from one component,
with the covariance scaled by `sample_scale` and the two blocks re-normalised (optional).

The Adam update of Z is dense (a row outside the batch still moves through its stale moments, as with a
dense PyTorch embedding); the paper does not say which it used.
Config: config.cola.{latent_dim, sigma, clusters (sCOLA only), generator, upsample, loss, lap.*, ridge,
sample_scale, renormalise_samples, halve_every_epochs}, config.model.G.width, config.optim.{G, Z}.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_collections

from fsgen import configs, optim
from fsgen.data.batches import draw_indices
from fsgen.data.preprocess import to_float
from fsgen.losses.assignment import cluster_labels
from fsgen.losses.laplacian_pyramid import laplacian_pyramid_loss
from fsgen.losses.perceptual import perceptual_loss, vgg_params
from fsgen.methods.base import Method as BaseMethod
from fsgen.methods.base import Phase
from fsgen.nets import cola_generator
from fsgen.nets.apply import apply_net
from fsgen.parallel import shard_batch
from fsgen.update import gradient_step


def default_config() -> ml_collections.ConfigDict:
  """Step II/III in the small-sample setting (InfoGAN generator, d = 64, Laplacian loss, 500 epochs)."""
  c = configs.loop_defaults()
  c.method = "cola"
  c.data = configs.data_defaults()
  c.batch_size = 128
  c.model = dict(G=dict(width=64))
  c.optim = dict(G=dict(name="adam", learning_rate=1e-3), Z=dict(name="adam", learning_rate=1e-2))
  c.cola = dict(
    latent_dim=64,
    sigma=1.0,
    clusters=0,
    generator="infogan",
    upsample="subpixel",
    loss="laplacian",
    lap=dict(levels=3, gamma=1.0, weight_exponent=-2.0, reduction="mean"),
    ridge=1e-4,
    sample_scale=1.0,
    renormalise_samples=True,
    halve_every_epochs=50,
  )
  return c


def unit(x: jax.Array) -> jax.Array:
  return x / jnp.maximum(jnp.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def renormalise(z: jax.Array, k: int) -> jax.Array:
  """Algorithm 1, epoch end: z [N, K+d] -> (t/||t||, v/||v||) with t = z[:, :K], v = z[:, K:]."""
  return jnp.concatenate([unit(z[:, :k]), unit(z[:, k:])], axis=-1)


def fit_gaussians(z: jax.Array, labels: jax.Array, num_clusters: int, ridge: float):
  """Step III: per-cluster mean [C, D] and Cholesky factor [C, D, D] of cov + ridge I (cov with 1/(n-1)).

  Args:
    z: float [N, D] codes; labels: int [N] cluster of each code in [0, num_clusters).
  An empty cluster gets mean 0 and covariance ridge I.
  """
  d = z.shape[1]
  w = jax.nn.one_hot(labels, num_clusters, dtype=z.dtype)  # [N, C]
  count = w.sum(0)  # [C]
  mean = (w.T @ z) / jnp.maximum(count, 1.0)[:, None]

  def cov(c):
    zc = (z - mean[c]) * w[:, c][:, None]
    return zc.T @ zc / jnp.maximum(count[c] - 1.0, 1.0)

  covs = jax.lax.map(cov, jnp.arange(num_clusters)) + ridge * jnp.eye(d)
  return {"mean": mean, "chol": jnp.linalg.cholesky(covs)}


def sample_codes(
  mixture, key, n: int, clusters: jax.Array | None, *, scale: float = 1.0, k: int = 0, renormalise_blocks: bool = True
) -> jax.Array:
  """Codes [n, D] from the Gaussians of `mixture` (mean [C, D], chol [C, D, D]).

  clusters: int [n] component of each code, or None for the uniform mixture (every cluster equally
  likely, whatever its size). scale multiplies the standard deviation. k: size of the class block for
  the optional per-block re-normalisation.
  """
  kc, ke = jax.random.split(key)
  num, d = mixture["mean"].shape
  if clusters is None:
    clusters = jax.random.randint(kc, (n,), 0, num)
  eps = jax.random.normal(ke, (n, d))
  z = mixture["mean"][clusters] + scale * jnp.einsum("nij,nj->ni", mixture["chol"][clusters], eps)
  return renormalise(z, k) if renormalise_blocks else z


class Method(BaseMethod):
  def __init__(self, config, info):
    super().__init__(config, info)
    self.hp = config.cola
    self.batch_size = config.batch_size
    self.num_clusters = self.hp.clusters  # COLA: set in init from the Step-I targets.
    if self.hp.loss not in ("laplacian", "perceptual"):
      raise ValueError(f"cola.loss must be 'laplacian' or 'perceptual', got {self.hp.loss!r}")
    if self.hp.loss == "perceptual":
      self._vgg = vgg_params()  # host numpy, fetched into the asset cache when missing
    # Both optimizers count Step II steps: lr x0.5 every halve_every_epochs epochs of ceil(N / B) steps.
    every = self.hp.halve_every_epochs * info.steps_per_epoch
    self.txs = {
      net: optim.build(
        {**dict(config.optim[net]), "learning_rate": optim.halving(config.optim[net].learning_rate, every)}
      )
      for net in ("G", "Z")
    }

  # ---- class parts: COLA reads Step I's targets, sCOLA (subclass) uses one-hot labels -------------------
  def class_parts(self, data, prior):
    """(t [N, K], cluster labels int32 [N], cluster means [K, K]) from the Step-I state `prior`."""
    if prior is None or "targets" not in prior.get("extra", {}):
      raise ValueError("cola needs config.init_from = a cola_encoder workdir (Step I targets)")
    targets, means = jnp.asarray(prior["extra"]["targets"]), jnp.asarray(prior["extra"]["means"])
    if targets.shape[0] != data["images"].shape[0]:
      raise ValueError(
        f"config.init_from holds {targets.shape[0]} targets for {data['images'].shape[0]} "
        f"images: use the same config.data as Step I"
      )
    return targets, cluster_labels(targets, means), means

  def _build(self, k: int):
    res, ch = self.config.data.resolution, self.config.data.channels
    self.num_clusters = k
    self.G = self.mixed(
      cola_generator.build(
        self.hp.generator,
        cond_dim=k,
        resolution=res,
        channels=ch,
        width=self.config.model.G.width,
        upsample=self.hp.upsample,
      )
    )

  def init(self, key, data, prior=None):
    t, labels, means = self.class_parts(data, prior)
    k = t.shape[1]
    self._build(k)
    kv, kg = jax.random.split(key)
    n = data["images"].shape[0]
    v = jnp.sqrt(self.hp.sigma) * jax.random.normal(kv, (n, self.hp.latent_dim))
    z = jnp.concatenate([unit(t), unit(v)], axis=-1)
    variables = self.G.init(kg, z[:1], train=False)
    params = {"G": variables["params"], "Z": z}
    state = {
      "params": params,
      "opt": {net: self.txs[net].init(p) for net, p in params.items()},
      "ema": {},
      "batch_stats": {"G": variables.get("batch_stats", {})},
      "extra": {"labels": labels, "means": means, "mixture": fit_gaussians(z, labels, k, self.hp.ridge)},
    }
    if self.hp.loss == "perceptual":  # a frozen network: in the state, never differentiated
      state["frozen"] = {"vgg": jax.tree.map(jnp.asarray, self._vgg)}
    return state

  def _rec_loss(self, state, x, y):
    if self.hp.loss == "laplacian":
      return laplacian_pyramid_loss(x, y, **dict(self.hp.lap))
    return perceptual_loss(state["frozen"]["vgg"], x, y)

  def gz_step(self, state, data, key):
    """Algorithm 1 inner loop: one Adam step on G and on the batch's rows of Z (jointly, Eq. 3)."""
    n = data["images"].shape[0]
    idx = draw_indices(key, n, self.batch_size)
    x = shard_batch(to_float(data["images"][idx]))
    bs = state["batch_stats"]["G"]

    def loss_fn(p):
      out, new_bs = apply_net(self.G, p["G"], bs, shard_batch(p["Z"][idx]), train=True)
      loss = self._rec_loss(state, out, x)
      return loss, {"G/rec": loss}, new_bs

    new, metrics, new_bs = gradient_step(state, ("G", "Z"), self.txs, loss_fn, has_aux=True)
    return {**new, "batch_stats": {"G": new_bs}}, metrics

  def epoch_end_step(self, state, data, key):
    """Gradient-free, after the last step of every epoch: re-normalise the codes, refit Step III."""
    del data, key
    k = self.num_clusters
    z = renormalise(state["params"]["Z"], k)
    mixture = fit_gaussians(z, state["extra"]["labels"], k, self.hp.ridge)
    new = {**state, "params": {**state["params"], "Z": z}, "extra": {**state["extra"], "mixture": mixture}}
    norms = jnp.linalg.norm(z[:, :k], axis=-1)
    moved = cluster_labels(z[:, :k], state["extra"]["means"]) != state["extra"]["labels"]
    drift = jnp.mean(moved.astype(jnp.float32))
    return new, {"Z/class_norm_dev": jnp.max(jnp.abs(norms - 1.0)), "Z/label_drift": drift}

  def phases(self):
    spe = self.info.steps_per_epoch  # epoch_end runs at the last step of every epoch, after GZ
    return [Phase("GZ", self.gz_step), Phase("epoch_end", self.epoch_end_step, every=spe, offset=spe - 1)]

  def sampling_params(self, state):
    return {"G": state["params"]["G"], "batch_stats": state["batch_stats"]["G"], "mixture": state["extra"]["mixture"]}

  def _ensure_built(self, params):
    if not hasattr(self, "G"):
      self._build(int(params["mixture"]["mean"].shape[0]))

  def decode(self, params, z):
    """Codes [n, K+d] -> images [n, H, W, C] in [-1, 1] (BN, if any, with running averages)."""
    self._ensure_built(params)
    return apply_net(self.G, params["G"], params.get("batch_stats", {}), z, train=False)[0]

  def sample(self, params, key, n):
    """n images from the uniform mixture of the per-cluster Gaussians (Step III)."""
    self._ensure_built(params)
    z = sample_codes(
      params["mixture"],
      key,
      n,
      None,
      scale=self.hp.sample_scale,
      k=self.num_clusters,
      renormalise_blocks=self.hp.renormalise_samples,
    )
    return self.decode(params, z)

  def sample_cluster(self, params, key, n, cluster: int):
    """n images of one cluster (COLA) or class (sCOLA), from its Gaussian."""
    self._ensure_built(params)
    z = sample_codes(
      params["mixture"],
      key,
      n,
      jnp.full((n,), cluster, jnp.int32),
      scale=self.hp.sample_scale,
      k=self.num_clusters,
      renormalise_blocks=self.hp.renormalise_samples,
    )
    return self.decode(params, z)
