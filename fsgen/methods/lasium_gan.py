"""`lasium_gan`: LASIUM's Omniglot GAN, trained on unlabelled images with the mode-seeking (MSGAN) term
(paper appendix 7.1: "the same loss function for training as MSGAN (Mao et al. 2019)"; official
models/lasiummamlgan/gan.py). Stage 1 of LASIUM-*-GAN-*; `lasium` loads its G through config.init_from.

Nets: fsgen.nets.omniglot_gan (G width 128, latent 128; D 64-128-128, global max-pool). Loss, as the code:
  D: binary cross-entropy on logits with FLIPPED labels (generated = 1, real = 0) plus label noise
     0.05 * U(0, 1) on every target, over the concatenated batch of B generated and B real images;
  G: BCE of fresh generated images against the "real" label 0, plus the mode-seeking term
     L_ms = 1 / (mean_b [ mean|G(z1) - G(z2)| / mean|z1 - z2| ] + 1e-5)
     (images on the code's [0, 1] scale), weighted by lasium_gan.mode_seeking (1 in the code).
Adam 3e-4 for both (default betas), batch 128, 500 epochs (the MAML run loads the epoch-500 weights).

Official bugs avoided: (1) MSGAN's mismatched z: the code generates its first image batch from the D
step's z but puts a fresh, unused z1 into the mode-seeking ratio, so the ratio divides the image distance
of one pair of codes by the code distance of another; here both images and both distances come from the
same (z1, z2). (2) The code applies the adversarial BCE to the SUM of the two batches' logits; here it
is the mean BCE of each generated image.

Phases per step: "D", then "G". No EMA (the official GAN keeps none).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_collections
import optax

from fsgen import configs, optim
from fsgen.data.batches import draw
from fsgen.losses.gan import mode_seeking_term
from fsgen.methods.base import Method as BaseMethod
from fsgen.methods.base import Phase, warm_start
from fsgen.nets import omniglot_gan
from fsgen.parallel import shard_batch
from fsgen.update import gradient_step


def default_config() -> ml_collections.ConfigDict:
  """A complete `lasium_gan` config: the paper's Omniglot GAN, 28x28x1, 500 epochs at batch 128."""
  c = configs.loop_defaults()
  c.method = "lasium_gan"
  c.data = configs.data_defaults(resolution=28, channels=1)
  c.model = dict(G=dict(width=128), D=dict(width=64))
  c.optim = dict(G=dict(name="adam", learning_rate=3e-4), D=dict(name="adam", learning_rate=3e-4))
  c.lasium_gan = dict(latent=128, label_noise=0.05, mode_seeking=1.0)
  c.batch_size = 128
  c.total_steps = 0
  c.total_epochs = 500
  return c


def _bce(logits, targets):
  return jnp.mean(optax.sigmoid_binary_cross_entropy(logits, targets))


class Method(BaseMethod):
  def __init__(self, config, info):
    super().__init__(config, info)
    self.G = self.mixed(omniglot_gan.Generator(channels=info.image_shape[-1], width=config.model.G.width))
    self.D = self.mixed(omniglot_gan.Discriminator(width=config.model.D.width))
    self.tx = {"G": optim.build(config.optim.G), "D": optim.build(config.optim.D)}
    self.hp = config.lasium_gan
    self.batch_size = config.batch_size
    if info.image_shape[:2] != (28, 28):
      raise ValueError(f"lasium_gan's nets are for 28x28 images; config.data gives {info.image_shape[:2]}")

  def init(self, key, data, prior=None):
    kg, kd = jax.random.split(key)
    params = {
      "G": self.G.init(kg, jnp.zeros((1, self.hp.latent)))["params"],
      "D": self.D.init(kd, jnp.zeros((1, *self.info.image_shape)))["params"],
    }
    params = warm_start(params, prior)
    return {"params": params, "opt": {n: self.tx[n].init(p) for n, p in params.items()}, "ema": {}, "extra": {}}

  def _z(self, key):
    return shard_batch(jax.random.normal(key, (self.batch_size, self.hp.latent)))

  def d_step(self, state, data, key):
    kz, kx, kn = jax.random.split(key, 3)
    fake = jax.lax.stop_gradient(self.G.apply({"params": state["params"]["G"]}, self._z(kz)))
    real = draw(kx, data["images"], self.batch_size)
    b = self.batch_size
    # Flipped labels as the code: generated = 1, real = 0, each target plus 0.05 * U(0, 1).
    targets = jnp.concatenate([jnp.ones(b), jnp.zeros(b)]) + self.hp.label_noise * jax.random.uniform(kn, (2 * b,))

    def loss_fn(d):
      logits = self.D.apply({"params": d}, jnp.concatenate([fake, real]))
      loss = _bce(logits, targets)
      return loss, {"D/adv": loss, "D/fake_logit": logits[:b].mean(), "D/real_logit": logits[b:].mean()}

    return gradient_step(state, "D", self.tx, loss_fn)

  def g_step(self, state, data, key):
    k1, k2 = jax.random.split(key)
    z1, z2 = self._z(k1), self._z(k2)

    def loss_fn(g):
      x1, x2 = self.G.apply({"params": g}, z1), self.G.apply({"params": g}, z2)
      logits = self.D.apply({"params": state["params"]["D"]}, jnp.concatenate([x1, x2]))
      adv = _bce(logits, jnp.zeros_like(logits))  # the "real" label of the flipped convention
      ms, ratio = mode_seeking_term(x1, x2, z1, z2)
      loss = adv + self.hp.mode_seeking * ms
      return loss, {"G/adv": adv, "G/mode_seeking": ms, "G/ms_ratio": ratio}

    return gradient_step(state, "G", self.tx, loss_fn)

  def phases(self):
    return [Phase("D", self.d_step), Phase("G", self.g_step)]

  def sampling_params(self, state):
    return {"G": state["params"]["G"]}

  def sample(self, params, key, n):
    return self.G.apply({"params": params["G"]}, jax.random.normal(key, (n, self.hp.latent)))
