"""`lasium_vae`: LASIUM's Omniglot VAE (paper appendix 7.1; official models/lasiummamlvae/vae.py), trained
on unlabelled images. Stage 1 of LASIUM-*-VAE-*; `lasium` loads E, G and their batch statistics through
config.init_from.

Nets: fsgen.nets.omniglot_vae (latent 20, 64 channels, strides (2, 2, 1, 1): the paper's "stride of 2
for all" layers is impossible at 28x28, see that module). Loss, as the code:
  reconstruction = per-image sum of pixel binary cross-entropies (the code: mean per-pixel BCE x 784),
                   averaged over the batch, images on the [0, 1] scale;
  KL             = -0.5 (1 + log var - mean^2 - exp(log var)), averaged over the latent dimensions AND
                   the batch when lasium_vae.kl_reduction = "mean" (the code: the KL is down-weighted by
                   1 / latent relative to the textbook ELBO), or summed over dimensions ("sum": the
                   standard VAE the paper's text names).
Adam 1e-3 on E and G jointly, batch 128, 1000 epochs (paper and code agree).

Phase "vae" per step. State: params/opt {"E", "G"}, batch_stats {"E", "G"} (running averages used when
sampling tasks). Sampling: z ~ N(0, I) decoded with the running averages.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_collections
import optax

from fsgen import configs, optim
from fsgen.data.batches import draw
from fsgen.methods.base import Method as BaseMethod
from fsgen.methods.base import Phase, warm_start
from fsgen.nets import omniglot_vae
from fsgen.update import gradient_step

NETS = ("E", "G")


def default_config() -> ml_collections.ConfigDict:
  """A complete `lasium_vae` config: the paper's Omniglot VAE, 28x28x1, 1000 epochs at batch 128."""
  c = configs.loop_defaults()
  c.method = "lasium_vae"
  c.data = configs.data_defaults(resolution=28, channels=1)
  c.model = dict(width=64)
  c.optim = dict(vae=dict(name="adam", learning_rate=1e-3))
  c.lasium_vae = dict(latent=20, kl_reduction="mean")
  c.batch_size = 128
  c.total_steps = 0
  c.total_epochs = 1000
  return c


def vae_loss(images, logits, mean, log_var, kl_reduction: str = "mean"):
  """(reconstruction, KL) of images [B, H, W, C] in [-1, 1] decoded as logits, posterior (mean, log_var)
  [B, Z]; see the module docstring for the reductions."""
  target = (images + 1.0) * 0.5
  rec = jnp.mean(jnp.sum(optax.sigmoid_binary_cross_entropy(logits, target), axis=(1, 2, 3)))
  kl = -0.5 * (1.0 + log_var - jnp.square(mean) - jnp.exp(log_var))
  if kl_reduction == "mean":
    return rec, jnp.mean(kl)
  if kl_reduction == "sum":
    return rec, jnp.mean(jnp.sum(kl, axis=1))
  raise ValueError(f"lasium_vae.kl_reduction must be 'mean' or 'sum', got {kl_reduction!r}")


class Method(BaseMethod):
  def __init__(self, config, info):
    super().__init__(config, info)
    self.hp = config.lasium_vae
    self.E = self.mixed(omniglot_vae.Encoder(latent=self.hp.latent, width=config.model.width))
    self.G = self.mixed(omniglot_vae.Decoder(channels=info.image_shape[-1], width=config.model.width))
    tx = optim.build(config.optim.vae)
    self.tx = {"E": tx, "G": tx}
    self.batch_size = config.batch_size
    if info.image_shape[:2] != (28, 28):
      raise ValueError(f"lasium_vae's nets are for 28x28 images; config.data gives {info.image_shape[:2]}")

  def init(self, key, data, prior=None):
    ke, kg = jax.random.split(key)
    ve = self.E.init(ke, jnp.zeros((2, *self.info.image_shape)), train=False)
    vg = self.G.init(kg, jnp.zeros((2, self.hp.latent)), train=False)
    params = warm_start({"E": ve["params"], "G": vg["params"]}, prior)
    stats = {"E": ve["batch_stats"], "G": vg["batch_stats"]}
    if prior is not None:
      stats = jax.tree.map(jnp.asarray, prior["batch_stats"])
    return {
      "params": params,
      "opt": {n: self.tx[n].init(params[n]) for n in NETS},
      "batch_stats": stats,
      "ema": {},
      "extra": {},
    }

  def vae_step(self, state, data, key):
    kx, kz = jax.random.split(key)
    x = draw(kx, data["images"], self.batch_size)
    bs = state["batch_stats"]

    def loss_fn(p):
      (mean, log_var), upd_e = self.E.apply(
        {"params": p["E"], "batch_stats": bs["E"]}, x, train=True, mutable=["batch_stats"]
      )
      z = mean + jnp.exp(0.5 * log_var) * jax.random.normal(kz, mean.shape)
      (_, logits), upd_g = self.G.apply(
        {"params": p["G"], "batch_stats": bs["G"]}, z, train=True, mutable=["batch_stats"]
      )
      rec, kl = vae_loss(x, logits, mean, log_var, self.hp.kl_reduction)
      new_stats = {"E": upd_e["batch_stats"], "G": upd_g["batch_stats"]}
      return rec + kl, {"vae/loss": rec + kl, "vae/reconstruction": rec, "vae/kl": kl}, new_stats

    state, metrics, new_stats = gradient_step(state, NETS, self.tx, loss_fn, has_aux=True)
    return {**state, "batch_stats": new_stats}, metrics

  def phases(self):
    return [Phase("vae", self.vae_step)]

  def sampling_params(self, state):
    return {"E": state["params"]["E"], "G": state["params"]["G"], "batch_stats": state["batch_stats"]}

  def sample(self, params, key, n):
    z = jax.random.normal(key, (n, self.hp.latent))
    return self.G.apply({"params": params["G"], "batch_stats": params["batch_stats"]["G"]}, z, train=False)[0]
