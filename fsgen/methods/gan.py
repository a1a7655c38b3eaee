"""`gan`: the plain GAN baseline (DCGAN-style nets, non-saturating or hinge loss, lazy R1, DiffAugment,
EMA generator). It proves the training loop and is the no-regularisation baseline of MixDL.

Phases per step: "D" (adversarial D update), "D_r1" (R1 on reals every `r1_every` steps, scaled by the
interval as in StyleGAN2's lazy regularisation; absent when r1_gamma = 0), "G" (+ EMA of G).
Config: config.gan.{loss, z_dim, r1_gamma, r1_every, diffaug, ema_decay, ema_rampup, mode_seeking},
config.model.{G,D}.width, config.model.D.mbstd_group (0 = off), config.optim.{G,D}, config.batch_size,
config.data.{resolution, channels}.
ema_rampup > 0 ramps the EMA's half-life up with the step as StyleGAN2-ADA does (fsgen.update.ema_rampup_decay;
0 = a constant ema_decay). mode_seeking > 0 adds MSGAN's term (Mao et al. 2019, Eq. 3;
fsgen.losses.gan.mode_seeking_term) with that weight to G's loss: the G batch's two halves are the image
pairs and their codes the code pairs, so a generator that maps every z to one image pays for it (0 = off,
the plain baseline).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_collections

from fsgen import configs, optim
from fsgen.data.batches import draw
from fsgen.data.diffaug import diff_augment
from fsgen.losses.gan import d_loss, g_loss, mode_seeking_term, r1_penalty
from fsgen.methods.base import Method as BaseMethod
from fsgen.methods.base import Phase, warm_start
from fsgen.nets import dcgan
from fsgen.parallel import shard_batch
from fsgen.update import ema_rampup_decay, gradient_step


def default_config() -> ml_collections.ConfigDict:
  """A complete `gan` config: DCGAN nets, Adam(2e-4, 0.5, 0.999), non-saturating loss, DiffAugment."""
  c = configs.loop_defaults()
  c.method = "gan"
  c.data = configs.data_defaults()
  c.model = dict(G=dict(width=64), D=dict(width=64, mbstd_group=0))
  c.optim = dict(
    G=dict(name="adam", learning_rate=2e-4, b1=0.5, b2=0.999), D=dict(name="adam", learning_rate=2e-4, b1=0.5, b2=0.999)
  )
  c.gan = dict(
    loss="nonsaturating",
    z_dim=128,
    r1_gamma=0.0,
    r1_every=16,
    diffaug="color,translation,cutout",
    ema_decay=0.999,
    ema_rampup=0.0,
    mode_seeking=0.0,
  )
  return c


class Method(BaseMethod):
  def __init__(self, config, info):
    super().__init__(config, info)
    res, ch = config.data.resolution, config.data.channels
    self.G = self.mixed(dcgan.Generator(resolution=res, channels=ch, width=config.model.G.width))
    d_cfg = config.model.D
    self.D = self.mixed(dcgan.Discriminator(resolution=res, width=d_cfg.width, mbstd_group=d_cfg.get("mbstd_group", 0)))
    self.tx = {"G": optim.build(config.optim.G), "D": optim.build(config.optim.D)}
    self.hp = config.gan
    if self.hp.get("mode_seeking", 0.0) > 0 and config.batch_size < 2:
      raise ValueError(f"gan.mode_seeking needs batch_size >= 2 (two halves to pair), got {config.batch_size}")
    self.batch_size = config.batch_size

  def init(self, key, data, prior=None):
    kg, kd = jax.random.split(key)
    res, ch = self.config.data.resolution, self.config.data.channels
    params = {
      "G": self.G.init(kg, jnp.zeros((1, self.hp.z_dim)))["params"],
      "D": self.D.init(kd, jnp.zeros((1, res, res, ch)))["params"],
    }
    params = warm_start(params, prior)  # config.init_from
    return {
      "params": params,
      "opt": {n: self.tx[n].init(p) for n, p in params.items()},
      "ema": {"G": params["G"]},
      "extra": {},
    }

  def _z(self, key):
    return shard_batch(jax.random.normal(key, (self.batch_size, self.hp.z_dim)))

  def _fake(self, g_params, key):
    return self.G.apply({"params": g_params}, self._z(key))

  def _d(self, d_params, x, key):
    return self.D.apply({"params": d_params}, diff_augment(key, x, self.hp.diffaug))

  def d_step(self, state, data, key):
    kz, kx, ka, kb = jax.random.split(key, 4)
    real = draw(kx, data["images"], self.batch_size)
    fake = jax.lax.stop_gradient(self._fake(state["params"]["G"], kz))

    def loss_fn(d):
      real_logits, fake_logits = self._d(d, real, ka), self._d(d, fake, kb)
      loss = d_loss(self.hp.loss, real_logits=real_logits, fake_logits=fake_logits)
      return loss, {"D/adv": loss, "D/real_logit": real_logits.mean(), "D/fake_logit": fake_logits.mean()}

    return gradient_step(state, "D", self.tx, loss_fn)

  def r1_step(self, state, data, key):
    kx, ka = jax.random.split(key)
    real = draw(kx, data["images"], self.batch_size)
    real = diff_augment(ka, real, self.hp.diffaug)
    scale = 0.5 * self.hp.r1_gamma * self.hp.r1_every

    def loss_fn(d):
      r1 = r1_penalty(lambda x: self.D.apply({"params": d}, x), real)
      return scale * r1, {"D/r1": r1}

    return gradient_step(state, "D", self.tx, loss_fn)

  def g_step(self, state, data, key):
    kz, ka = jax.random.split(key)
    z = self._z(kz)
    ms_weight, half = self.hp.get("mode_seeking", 0.0), self.batch_size // 2

    def loss_fn(g):
      fake = self.G.apply({"params": g}, z)
      adv = g_loss(self.hp.loss, fake_logits=self._d(state["params"]["D"], fake, ka))
      if not ms_weight:
        return adv, {"G/adv": adv}
      ms, ratio = mode_seeking_term(fake[:half], fake[half : 2 * half], z[:half], z[half : 2 * half])
      return adv + ms_weight * ms, {"G/adv": adv, "G/mode_seeking": ms, "G/ms_ratio": ratio}

    return gradient_step(state, "G", self.tx, loss_fn)

  def phases(self):
    phases = [Phase("D", self.d_step)]
    if self.hp.r1_gamma > 0:
      phases.append(Phase("D_r1", self.r1_step, every=self.hp.r1_every))
    rampup = self.hp.get("ema_rampup", 0.0)
    decay = ema_rampup_decay(self.hp.ema_decay, rampup) if rampup > 0 else self.hp.ema_decay
    phases.append(Phase("G", self.g_step, ema={"G": decay}))
    return phases

  def sampling_params(self, state):
    return {"G": state["ema"]["G"]}

  def sample(self, params, key, n):
    z = jax.random.normal(key, (n, self.hp.z_dim))
    return self.G.apply({"params": params["G"]}, z)
