"""LASIUM's task sampler: (key, frozen generator, unlabelled data) -> support and query images, jittable.

  sample_tasks(gen, hp, frozen, data, key, num_tasks=T, n_way=N, k_shot=K, k_query=Q)
    -> support [T, N, K, H, W, C], query [T, N, Q, H, W, C] in [-1, 1], metrics

Per task (Algorithm 1): N anchors more than epsilon apart (squared distance, bounded rejection loop), then
K + Q - 1 in-class codes per anchor by N, RO or OC (fsgen.meta.latent_tasks); all N * (K + Q) codes of the
meta-batch are decoded in one generator batch; the first K of each class row are the support, the last Q
the queries. Metrics: lasium/anchor_rejects (rejected anchor draws per task), lasium/anchor_failed (the
fraction of tasks whose epsilon was never met within max_draws).

Generators (`gen`):
  GanTasks: anchors ~ N(0, I) of the GAN prior; every image is decoded.
  VaeTasks: anchors are posterior samples z ~ q(z | x) of N distinct real images drawn from the data
    (the rejection redraws the images), and those real images are each class's first shot (paper Fig. 2);
    the encoder and decoder run with their batch-norm running averages, as the official sampler.
RO's out-of-class codes come from N(0, I), the prior of both.

Query shift (hp.query_shift = s > 0): each query image is shifted by an integer offset in {-s..s}^2 with
the vacated border filled by the image's own edge, i.e. the background (fsgen.data.crop_flip.random_crop,
fill "edge"). The official code (UMTRA-style, used for the VAE learners and ProtoNets-GAN) shifts by
{-5..4} through tfa.image.transform, whose default fill is constant 0: BLACK borders on Omniglot's white
background. That black fill is avoided here; the range is made symmetric.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from fsgen.data.crop_flip import random_crop
from fsgen.data.preprocess import to_float
from fsgen.meta.latent_tasks import draw_anchors, task_codes
from fsgen.methods.base import warm_start
from fsgen.nets import omniglot_gan, omniglot_vae
from fsgen.nets.precision import with_dtype


class GanTasks:
  """The Omniglot GAN generator as a task source; frozen = {"G": params}."""

  kind = "gan"

  def __init__(self, width: int, latent: int, channels: int, dtype: str = "float32"):
    self.G = with_dtype(omniglot_gan.Generator(channels=channels, width=width), dtype)
    self.latent = latent

  def init_frozen(self, key, prior=None, image_shape=(28, 28, 1)) -> dict:
    """Random generator weights, or those of `prior` (the restored lasium_gan state), shape-checked."""
    frozen = {"G": self.G.init(key, jnp.zeros((1, self.latent)))["params"]}
    return warm_start(frozen, prior, nets=["G"]) if prior is not None else frozen

  def draw(self, frozen, data, key, n: int):
    """One candidate anchor set: (codes [n, Z] ~ N(0, I), no payload)."""
    return jax.random.normal(key, (n, self.latent)), ()

  def decode(self, frozen, z):
    return self.G.apply({"params": frozen["G"]}, z)

  def first_shots(self, payload):
    return None


class VaeTasks:
  """The Omniglot VAE as a task source; frozen = {"E", "G", "batch_stats": {"E", "G"}}."""

  kind = "vae"

  def __init__(self, width: int, latent: int, channels: int, dtype: str = "float32"):
    self.E = with_dtype(omniglot_vae.Encoder(latent=latent, width=width), dtype)
    self.G = with_dtype(omniglot_vae.Decoder(channels=channels, width=width), dtype)
    self.latent = latent

  def init_frozen(self, key, prior=None, image_shape=(28, 28, 1)) -> dict:
    """Random VAE weights and statistics, or those of `prior` (the restored lasium_vae state)."""
    ke, kg = jax.random.split(key)
    ve = self.E.init(ke, jnp.zeros((2, *image_shape)), train=False)
    vg = self.G.init(kg, jnp.zeros((2, self.latent)), train=False)
    params = {"E": ve["params"], "G": vg["params"]}
    stats = {"E": ve["batch_stats"], "G": vg["batch_stats"]}
    if prior is not None:
      params = warm_start(params, prior, nets=["E", "G"])
      if "batch_stats" not in prior:
        raise ValueError("config.init_from: the VAE workdir has no batch_stats (not a lasium_vae run?)")
      stats = warm_start(stats, {"params": prior["batch_stats"]}, nets=["E", "G"])
    return {**params, "batch_stats": stats}

  def draw(self, frozen, data, key, n: int):
    """One candidate anchor set: posterior samples of n distinct real images, the images as payload."""
    ki, kz = jax.random.split(key)
    idx = jax.random.choice(ki, data["images"].shape[0], (n,), replace=False)
    x = to_float(data["images"][idx])
    mean, log_var = self.E.apply({"params": frozen["E"], "batch_stats": frozen["batch_stats"]["E"]}, x, train=False)
    return mean + jnp.exp(0.5 * log_var) * jax.random.normal(kz, mean.shape), x

  def decode(self, frozen, z):
    variables = {"params": frozen["G"], "batch_stats": frozen["batch_stats"]["G"]}
    return self.G.apply(variables, z, train=False)[0]

  def first_shots(self, payload):
    return payload


class PriorAnchors:
  """`gen` with anchors from the prior N(0, I) and every image decoded (task previews without data)."""

  def __init__(self, gen):
    self.gen, self.latent, self.kind = gen, gen.latent, gen.kind

  def draw(self, frozen, data, key, n: int):
    return jax.random.normal(key, (n, self.latent)), ()

  def decode(self, frozen, z):
    return self.gen.decode(frozen, z)

  def first_shots(self, payload):
    return None


def build(config):
  """The task source of config.generator = {kind: "gan" | "vae", width, latent}."""
  g, channels = config.generator, config.data.channels
  if g.kind == "gan":
    return GanTasks(g.width, g.latent, channels, config.get("dtype", "float32"))
  if g.kind == "vae":
    return VaeTasks(g.width, g.latent, channels, config.get("dtype", "float32"))
  raise ValueError(f"config.generator.kind must be 'gan' or 'vae', got {g.kind!r}")


def sample_tasks(gen, hp, frozen, data, key, *, num_tasks: int, n_way: int, k_shot: int, k_query: int):
  """T tasks from the generator (see the module docstring); hp = config.lasium."""
  count = k_shot + k_query - 1
  kt, kq = jax.random.split(key)

  def one_task(k):
    ka, kc = jax.random.split(k)
    anchors, payload, rejects, ok = draw_anchors(
      ka, lambda kk: gen.draw(frozen, data, kk, n_way), hp.epsilon, hp.max_draws
    )
    codes = task_codes(kc, anchors, count, hp.strategy, sigma=hp.sigma, alpha=hp.alpha, oc_noise=hp.oc_noise)
    return codes, payload, rejects, ok

  codes, payload, rejects, ok = jax.vmap(one_task)(jax.random.split(kt, num_tasks))
  images = gen.decode(frozen, codes.reshape(-1, codes.shape[-1]))
  images = images.reshape(num_tasks, n_way, count + 1, *images.shape[1:])
  first = gen.first_shots(payload)
  if first is not None:  # VAE: the real images are the first shot of their class
    images = images.at[:, :, 0].set(first)
  support, query = images[:, :, :k_shot], images[:, :, k_shot:]
  if hp.query_shift:
    flat = query.reshape(-1, *query.shape[3:])
    query = random_crop(kq, flat, hp.query_shift, fill="edge").reshape(query.shape)
  metrics = {"lasium/anchor_rejects": jnp.mean(rejects.astype(jnp.float32)), "lasium/anchor_failed": 1.0 - ok.mean()}
  return support, query, metrics
