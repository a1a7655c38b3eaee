"""`augintae`: augmentation-interpolative autoencoders, with the AE and IntAE baselines (Wertheimer et al.,
arXiv 2011.13026; reference notes ../shared/reference/augintae.md).

Training (mode "augint", paper Sec. 3, Eq. 1-6, A.1). From a batch x: A = T(x; rho_1), B = T(x; rho_2),
C = T(x; alpha rho_1 + (1 - alpha) rho_2) with alpha the mean of two uniforms (fsgen.data.param_augment);
the encoder E maps to the unit sphere and the decoder G reconstructs C from slerp(E(A), E(B); alpha):
  L_recon = mean_i |C_i - G(slerp(E(A_i), E(B_i); alpha_i))|_1                              (Eq. 1, A.1)
  L_AE = L_recon + k * gamma * L_adv, L_adv = mean_i (D(x_i) - c)^2 / 2 (LSGAN)             (Eq. 2)
  gamma: per image, the adversarial gradient reaching decoded image x_i is rescaled to the norm of its
         reconstruction gradient (stop-gradient; `equalised_adversarial`)                   (Eq. 3)
  k <- clip(k - 0.001 (1 - (mean D(real) - mean D(fake))), 0, 1), k_0 = 1, once per step     (Eq. 4-6)
and D, of the encoder's architecture with one output (batch norm included), trained with LSGAN on
real = the C-type augmented images vs fake = the decoded images.
LSGAN coding (augintae.lsgan): D's targets real b = 1, fake a = -1, G's target c = 1. The paper's k rule
needs it: k "increases back to 1" once the margin D(real) - D(fake) exceeds 1 (A.1), and the optimal
LSGAN D separates real from fake by at most b - a; with the 0/1 coding (b - a = 1) k could only fall, to
0 within a few thousand steps, after which AugIntAE and AE are plain L1 models and IntAE's interpolations
get no gradient at all. The paper does not state its coding; -1/+1 is the one under which its rule works.
D's batch norm (model.d_norm = "batch", augintae.d_batch = "joint"): every D call sees one batch of the
real and the decoded images together, in the D phase and in the AE phase alike; separate real and fake
batches (as InfoGAN's code) let batch norm remove every per-feature mean difference between them. Batch
norm couples the images of a batch (D's output on one image depends on the others), so the gradient of
one image's L_adv,i is not all of the adversarial gradient reaching it; Eq. 3 is applied to the whole
gradient reaching each image, so the per-image equalisation holds exactly. Note that L1's per-image
gradient norm is a constant (1 / sqrt(pixels)): the adversarial push on every image always has that norm
times k, whether D is fooled or not; k alone sets its weight.
Baselines (paper Sec. 5): "ae" reconstructs C from E(C) (same data distribution, same GAN term); "int"
(IntAE) reconstructs two different C-type augmented training images (seeds) and trains interpolations
between them only through the GAN term, which also sees the seed reconstructions. For IntAE an example
i is a pair: gamma_i compares the norms over its three decoded images (two reconstructions and one
interpolation), since the interpolation alone has no reconstruction gradient [our reading].
Without the GAN term (augintae.adversarial=False) the AE learning rate drops 10x at epochs 35 and 70
(paper A.1; epochs of self.info.steps_per_epoch steps); with it, it is constant. Choices the paper leaves
open (reference Sec. 10), each a config key: batch 64, gradient norms w.r.t. the decoded images, D's real
images = the C-type images, tanh output, FID paths at alpha = 0.25, 0.5, 0.75.
Sampling (Sec. 4): encode seed images, pick random pairs, slerp at alpha ~ U(0, 1), decode. `generate`
takes any seeds (novel classes); `sample` uses `augintae.num_seeds` training images chosen at init.
Batch norm in E and G as in InfoGAN (statistics in state["batch_stats"], running averages for sampling;
fsgen.nets.autoencoder says why pixel norm fails there); D runs in training mode only.

Metrics: D/{adv, real, fake} (D phase); AE/{recon, adv, gamma, d_real, d_fake, margin, k} (AE phase:
D's batch means on this step's real and decoded images, their difference and k after the update);
IntAE also logs D/interp, AE/{d_recon, d_interp} (D on the reconstructions and on the interpolations)
and AE/push_interp (the interpolation's share of each example's squared adversarial push, Eq. 3).
Phases per step: "D" (LSGAN discriminator; absent without the GAN term), "AE" (E and G jointly, then k).
Config: config.augintae.{mode, latent_dim, interpolation, augment, fill, adversarial, k_init, k_rate,
lsgan.{real, fake, generator}, d_batch, gamma_eps, lr_drop_epochs, num_seeds, path_alphas},
config.model.{arch, width, d_norm, upsample}, config.optim.{AE, D}.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_collections
import optax

from fsgen import configs, optim
from fsgen.data import param_augment
from fsgen.data.batches import draw, draw_indices
from fsgen.data.preprocess import to_float
from fsgen.latent import slerp
from fsgen.losses.gan import lsgan_d_loss, lsgan_g_loss_per_example
from fsgen.methods.base import Method as BaseMethod
from fsgen.methods.base import Phase, warm_start
from fsgen.nets import autoencoder
from fsgen.nets.apply import apply_net
from fsgen.update import gradient_step

MODES = ("augint", "int", "ae")


def default_config(mode: str = "augint") -> ml_collections.ConfigDict:
  """AugIntAE on 28 px handwriting (InfoGAN nets, latent 32, Adam 1e-3, 100 epochs, LSGAN term on)."""
  c = configs.loop_defaults()
  c.method = "augintae"
  c.data = configs.data_defaults(resolution=28, channels=1)
  c.batch_size = 64
  c.total_epochs, c.total_steps = 100, 0
  c.model = dict(arch="infogan", width=64, d_norm="batch", upsample="transpose")
  c.optim = dict(AE=dict(name="adam", learning_rate=1e-3), D=dict(name="adam", learning_rate=1e-3))
  c.augintae = dict(
    mode=mode,
    latent_dim=32,
    interpolation="slerp",
    augment=param_augment.ranges_for("characters"),
    fill="nearest",
    adversarial=True,
    k_init=1.0,
    k_rate=1e-3,
    lsgan=dict(real=1.0, fake=-1.0, generator=1.0),
    d_batch="joint",
    gamma_eps=1e-8,
    lr_drop_epochs=(35, 70),
    num_seeds=6,
    path_alphas=(0.25, 0.5, 0.75),
  )
  return c


def interpolate(a: jax.Array, b: jax.Array, alpha: jax.Array, kind: str) -> jax.Array:
  """Codes alpha * a + (1 - alpha) * b in the sense of Eq. 1 (alpha weights a): slerp or lerp; a, b [B, D]."""
  if kind == "slerp":
    return slerp(b, a, alpha)
  if kind == "lerp":
    return alpha[:, None] * a + (1.0 - alpha[:, None]) * b
  raise ValueError(f"augintae.interpolation must be 'slerp' or 'lerp', got {kind!r}")


def random_paths(key: jax.Array, num_seeds: int, n: int, alphas=None):
  """(i, j, alpha), each [n]: n points on random paths between distinct seeds i != j.

  Without `alphas`, one point per path at alpha ~ U(0, 1); with `alphas` (e.g. the FID protocol's
  (0.25, 0.5, 0.75)), each of those points along n / len(alphas) paths (n must be a multiple)."""
  if num_seeds < 2:
    raise ValueError(f"AugIntAE needs at least 2 seed images to interpolate, got {num_seeds}")
  per = 1 if alphas is None else len(alphas)
  if n % per:
    raise ValueError(f"n = {n} is not a multiple of the {per} points per path")
  ki, kj, ka = jax.random.split(key, 3)
  paths = n // per
  i = jax.random.randint(ki, (paths,), 0, num_seeds)
  j = (i + jax.random.randint(kj, (paths,), 1, num_seeds)) % num_seeds  # a different seed
  if alphas is None:
    return i, j, jax.random.uniform(ka, (paths,))
  return jnp.repeat(i, per), jnp.repeat(j, per), jnp.tile(jnp.asarray(alphas, jnp.float32), paths)


def update_k(k: jax.Array, d_real: jax.Array, d_fake: jax.Array, rate: float) -> jax.Array:
  """Eq. 4-6: k <- clip(k - rate * (1 - (d_real - d_fake)), 0, 1); d_* are batch means of D's outputs."""
  return jnp.clip(k - rate * (1.0 - (d_real - d_fake)), 0.0, 1.0)


def equalised_adversarial(rec_fn, adv_fn, decoded: jax.Array, eps: float, *, has_aux: bool = False):
  """Per-example gamma_i of Eq. 3 (stop-gradient) and the adversarial loss with its gradient rescaled.

  decoded [B, ...]; rec_fn, adv_fn: decoded -> per-example losses [B] (adv_fn -> ([B], aux) with
  `has_aux`). With g_rec,i and g_adv,i the rows i of d sum(rec) / d decoded and d sum(adv) / d decoded
  (the whole adversarial gradient reaching decoded image i, also through other images when D's batch
  norm couples them),
    gamma_i = ||g_rec,i|| / (||g_adv,i|| + eps),
  the returned loss has the value mean_i adv_i and the gradient gamma_i g_adv,i / B with respect to
  decoded image i. So the adversarial gradient reaching each image has exactly the norm of its
  reconstruction gradient ("we rescale all adversarial gradients so that their magnitudes match those of
  the reconstruction loss gradient", A.1, per image), coupled or not; without coupling it is the
  gradient of mean_i gamma_i adv_i. D runs forward and backward once (the gradient is reused).
  Returns (loss, gamma [B], adv [B]) or, with `has_aux`, (loss, gamma, adv, aux, push) where push
  [B, ...] (stop-gradient) is the rescaled adversarial gradient reaching each decoded image.
  """
  x = jax.lax.stop_gradient(decoded)
  adv, vjp, *aux = jax.vjp(adv_fn, x, has_aux=has_aux)
  g_adv = vjp(jnp.ones_like(adv))[0]
  g_rec = jax.grad(lambda y: jnp.sum(rec_fn(y)))(x)
  per_row = lambda g: jnp.sqrt(jnp.sum(jnp.square(g.reshape(g.shape[0], -1)), -1))
  gamma = jax.lax.stop_gradient(per_row(g_rec) / (per_row(g_adv) + eps))
  push = jax.lax.stop_gradient(gamma.reshape((-1,) + (1,) * (decoded.ndim - 1)) * g_adv / decoded.shape[0])
  surrogate = jnp.sum(push * decoded)  # d / d decoded = push
  loss = surrogate - jax.lax.stop_gradient(surrogate) + jnp.mean(adv)
  return (loss, gamma, adv, aux[0], push) if has_aux else (loss, gamma, adv)


def _slot_metrics(d_fake: jax.Array, push: jax.Array) -> dict:
  """IntAE diagnostics from D's outputs d_fake [B, 3] and the push [B, 3, H, W, C] on the decoded images
  (slots: reconstruction 1, reconstruction 2, interpolation): D on the reconstructions and on the
  interpolations, and the interpolation's share of each example's squared push norm, averaged."""
  sq = jnp.sum(jnp.square(push.reshape(push.shape[0], push.shape[1], -1)), -1)
  share = sq[:, 2] / jnp.maximum(jnp.sum(sq, -1), 1e-30)
  return {"AE/d_recon": d_fake[:, :2].mean(), "AE/d_interp": d_fake[:, 2].mean(), "AE/push_interp": share.mean()}


class Method(BaseMethod):
  def __init__(self, config, info):
    super().__init__(config, info)
    self.hp = hp = config.augintae
    if hp.mode not in MODES:
      raise ValueError(f"augintae.mode must be one of {MODES}, got {hp.mode!r}")
    if hp.interpolation not in ("slerp", "lerp"):
      raise ValueError(f"augintae.interpolation must be 'slerp' or 'lerp', got {hp.interpolation!r}")
    if hp.d_batch not in ("joint", "separate"):
      raise ValueError(f"augintae.d_batch must be 'joint' or 'separate', got {hp.d_batch!r}")
    if hp.fill not in param_augment.FILL_MODES:
      raise ValueError(f"augintae.fill must be one of {param_augment.FILL_MODES}, got {hp.fill!r}")
    nets = autoencoder.build(
      config.model.arch,
      resolution=config.data.resolution,
      channels=config.data.channels,
      latent_dim=hp.latent_dim,
      width=config.model.width,
      d_norm=config.model.d_norm,
      upsample=config.model.get("upsample", "subpixel"),  # workdirs written before the key used "subpixel"
    )
    self.E, self.G, self.D = (self.mixed(net) for net in nets)
    self.batch_size = config.batch_size
    self.tx = self._build_tx()

  # ---- optimizers --------------------------------------------------------------------------------------
  def ae_learning_rate(self):
    """config.optim.AE's rate, or without the GAN term a schedule /10 at each of lr_drop_epochs (A.1),
    epochs of `self.info.steps_per_epoch` steps."""
    lr = self.config.optim.AE.learning_rate
    if self.hp.adversarial or not self.hp.lr_drop_epochs:
      return lr
    epoch = self.info.steps_per_epoch
    return optax.piecewise_constant_schedule(lr, {int(e) * epoch: 0.1 for e in self.hp.lr_drop_epochs})

  def _build_tx(self) -> dict:
    """E and G each get config.optim.AE (own state) at `ae_learning_rate`; D gets config.optim.D."""
    tx = optim.build({**dict(self.config.optim.AE), "learning_rate": self.ae_learning_rate()})
    return {"E": tx, "G": tx, "D": optim.build(self.config.optim.D)}

  def init(self, key, data, prior=None):
    ke, kg, kd, ks = jax.random.split(key, 4)
    n, res, ch = data["images"].shape[0], self.config.data.resolution, self.config.data.channels
    x = jnp.zeros((2, res, res, ch))
    variables = {
      "E": self.E.init(ke, x),
      "G": self.G.init(kg, jnp.zeros((2, self.hp.latent_dim))),
      "D": self.D.init(kd, x),
    }
    params = warm_start({k: v["params"] for k, v in variables.items()}, prior)
    batch_stats = {k: v.get("batch_stats", {}) for k, v in variables.items()}
    if prior is not None and prior.get("batch_stats"):
      batch_stats = {**batch_stats, **jax.tree.map(jnp.asarray, prior["batch_stats"])}
    seeds = to_float(data["images"][draw_indices(ks, n, min(self.hp.num_seeds, n))])
    return {
      "params": params,
      "opt": {k: self.tx[k].init(p) for k, p in params.items()},
      "ema": {},
      "batch_stats": batch_stats,
      "extra": {"k": jnp.asarray(self.hp.k_init, jnp.float32), "seeds": seeds},
    }

  def _apply(self, net: str, params, batch_stats, x, train: bool):
    """(output, new batch statistics) of E or G (fsgen.nets.apply.apply_net)."""
    return apply_net({"E": self.E, "G": self.G}[net], params, batch_stats, x, train=train)

  # ---- the training examples of each mode --------------------------------------------------------------
  def _examples(self, key, data):
    """One batch of training examples of the mode: (codes, targets, rec_mask, real).

    codes: E's params -> codes [B, m, D] of the m images decoded per example (augint, ae: m = 1, the
    interpolation or the reconstruction of C; int: m = 3, both seed reconstructions and their
    interpolation); targets [B, m, H, W, C]; rec_mask [m] (1 where the slot has a reconstruction target);
    real: the C-type images D sees as real [B or 2B, H, W, C].
    """
    kx, kt, kt2, ka = jax.random.split(key, 4)
    hp, B = self.hp, self.batch_size
    if hp.mode == "int":
      x = draw(kx, data["images"], 2 * B)
      s1 = param_augment.triplet(kt, x[:B], hp.augment, hp.fill)[2]
      s2 = param_augment.triplet(kt2, x[B:], hp.augment, hp.fill)[2]
      alpha = param_augment.interpolation_alpha(ka, B)
      targets, mask, real = jnp.stack([s1, s2, s1], 1), (1.0, 1.0, 0.0), jnp.concatenate([s1, s2])

      def codes(e, bs):  # both seed sets in one call: one set of batch statistics
        z, bs = self._apply("E", e, bs, jnp.concatenate([s1, s2]), train=True)
        z1, z2 = z[:B], z[B:]
        return jnp.stack([z1, z2, interpolate(z1, z2, alpha, hp.interpolation)], 1), bs
    else:
      x = draw(kx, data["images"], B)
      a, b, c, alpha = param_augment.triplet(kt, x, hp.augment, hp.fill)
      targets, mask, real = c[:, None], (1.0,), c

      def codes(e, bs):
        if hp.mode == "ae":
          z, bs = self._apply("E", e, bs, c, train=True)
          return z[:, None], bs
        z, bs = self._apply("E", e, bs, jnp.concatenate([a, b]), train=True)
        return interpolate(z[:B], z[B:], alpha, hp.interpolation)[:, None], bs

    return codes, targets, jnp.asarray(mask), real

  def _decode(self, g, bs, codes):
    """codes [B, m, D] -> (images [B, m, H, W, C], new G batch statistics), in training mode."""
    b, m, d = codes.shape
    out, bs = self._apply("G", g, bs, codes.reshape(b * m, d), train=True)
    return out.reshape(b, m, *out.shape[1:]), bs

  def _d(self, d_params, d_stats, images):
    """(D's outputs [N], its new statistics) on images [N, H, W, C], with batch statistics when D has
    batch norm (D always runs in training mode; its running averages are never used)."""
    out, d_stats = apply_net(self.D, d_params, d_stats, images, train=True)
    return out[:, 0], d_stats

  def _scores(self, d_params, d_stats, real, fake):
    """(D(real) [Nr], D(fake) [Nf], D's new statistics). augintae.d_batch "joint": one batch-norm batch
    of real and fake images together; "separate": one each, as InfoGAN's and DCGAN's code do (batch norm
    then removes every per-feature mean difference between the real and the fake batch)."""
    if self.hp.d_batch == "joint":
      out, d_stats = self._d(d_params, d_stats, jnp.concatenate([real, fake]))
      return out[: real.shape[0]], out[real.shape[0] :], d_stats
    real_out, d_stats = self._d(d_params, d_stats, real)
    fake_out, d_stats = self._d(d_params, d_stats, fake)
    return real_out, fake_out, d_stats

  def d_step(self, state, data, key):
    hp, p, bs = self.hp, state["params"], state["batch_stats"]
    codes, _, _, real = self._examples(key, data)
    # E and G in training mode, as in the AE phase; their statistics are updated only by the AE phase
    fake = jax.lax.stop_gradient(self._decode(p["G"], bs["G"], codes(p["E"], bs["E"])[0])[0])
    fake = fake.reshape(-1, *fake.shape[2:])

    def loss_fn(d):
      real_out, fake_out, stats = self._scores(d, bs["D"], real, fake)
      loss = lsgan_d_loss(real_out, fake_out, hp.lsgan.real, hp.lsgan.fake)
      metrics = {"D/adv": loss, "D/real": real_out.mean(), "D/fake": fake_out.mean()}
      if hp.mode == "int":  # D on the interpolations alone (slot 2 of each example's 3 decoded images)
        metrics["D/interp"] = fake_out.reshape(-1, 3)[:, 2].mean()
      return loss, metrics, stats

    state, metrics, d_stats = gradient_step(state, "D", self.tx, loss_fn, has_aux=True)
    return {**state, "batch_stats": {**state["batch_stats"], "D": d_stats}}, metrics

  def ae_step(self, state, data, key):
    hp = self.hp
    codes, targets, mask, real = self._examples(key, data)
    d_params, d_stats, k = state["params"]["D"], state["batch_stats"]["D"], state["extra"]["k"]

    def rec_fn(decoded):  # [B, m, ...] -> [B]: mean L1 over the slots with a target
      per_slot = jnp.mean(jnp.abs(decoded - targets), axis=tuple(range(2, decoded.ndim)))
      return jnp.sum(per_slot * mask, -1) / jnp.sum(mask)

    def adv_fn(decoded):  # [B, m, ...] -> ([B]: mean LSGAN generator loss over the slots, D's outputs)
      real_out, fake_out, _ = self._scores(d_params, d_stats, real, decoded.reshape(-1, *decoded.shape[2:]))
      adv = lsgan_g_loss_per_example(fake_out, hp.lsgan.generator).reshape(decoded.shape[:2]).mean(-1)
      return adv, (real_out, fake_out)

    bs = state["batch_stats"]

    def loss_fn(params):
      z, bs_e = codes(params["E"], bs["E"])
      decoded, bs_g = self._decode(params["G"], bs["G"], z)
      rec = rec_fn(decoded)
      metrics = {"AE/recon": rec.mean()}
      loss = rec.mean()
      if hp.adversarial:
        adv, gamma, raw, (d_real, d_fake), push = equalised_adversarial(
          rec_fn, adv_fn, decoded, hp.gamma_eps, has_aux=True
        )
        loss = loss + k * adv
        metrics.update({"AE/adv": raw.mean(), "AE/gamma": gamma.mean()})
        metrics.update({"AE/d_real": d_real.mean(), "AE/d_fake": d_fake.mean()})
        if hp.mode == "int":  # where the equalised push goes: the interpolation vs the two reconstructions
          metrics.update(_slot_metrics(d_fake.reshape(decoded.shape[:2]), push))
      return loss, metrics, {"E": bs_e, "G": bs_g}

    state, metrics, new_stats = gradient_step(state, ("E", "G"), self.tx, loss_fn, has_aux=True)
    state = {**state, "batch_stats": {**state["batch_stats"], **new_stats}}
    if hp.adversarial:  # Eq. 4-6 with this step's batch means of D on the real and the decoded images
      k = update_k(k, metrics["AE/d_real"], metrics["AE/d_fake"], hp.k_rate)
      state = {**state, "extra": {**state["extra"], "k": k}}
      metrics.update({"AE/k": k, "AE/margin": metrics["AE/d_real"] - metrics["AE/d_fake"]})
    return state, metrics

  def phases(self):
    phases = [Phase("D", self.d_step)] if self.hp.adversarial else []
    return phases + [Phase("AE", self.ae_step)]

  # ---- sampling ----------------------------------------------------------------------------------------
  def sampling_params(self, state):
    return {
      "E": state["params"]["E"],
      "G": state["params"]["G"],
      "batch_stats": {k: state["batch_stats"][k] for k in ("E", "G")},
      "seeds": state["extra"]["seeds"],
    }

  def generate(self, params, key, seeds: jax.Array, n: int, alphas=None) -> jax.Array:
    """n images [n, H, W, C] in [-1, 1] from seed images [S, H, W, C] (floats in [-1, 1]) along
    `random_paths` between distinct seeds (the paper's few-shot sampler, Sec. 4)."""
    return self.decode_paths(params, seeds, *random_paths(key, seeds.shape[0], n, alphas))

  def decode_paths(self, params, seeds: jax.Array, i: jax.Array, j: jax.Array, alpha: jax.Array) -> jax.Array:
    """G(interpolate(E(seeds[i]), E(seeds[j]), alpha)): [P, H, W, C] for index and alpha arrays [P]."""
    bs = params.get("batch_stats", {})
    z = self._apply("E", params["E"], bs.get("E", {}), seeds, train=False)[0]
    codes = interpolate(z[i], z[j], alpha, self.hp.interpolation)
    return self._apply("G", params["G"], bs.get("G", {}), codes, train=False)[0]

  def sample(self, params, key, n):
    return self.generate(params, key, params["seeds"], n)

  def reconstruct(self, params, images: jax.Array) -> jax.Array:
    """G(E(x)) for images [B, H, W, C] in [-1, 1] (the generalisation test of paper Table 1)."""
    bs = params.get("batch_stats", {})
    z = self._apply("E", params["E"], bs.get("E", {}), images, train=False)[0]
    return self._apply("G", params["G"], bs.get("G", {}), z, train=False)[0]
