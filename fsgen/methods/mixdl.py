"""`mixdl`: Mixup-based Distance Learning (Kong et al., ECCV 2022) on a StyleGAN2 or FastGAN backbone.

Every `mixup_every`-th step (official: 2, "lazy mixup") is a mixup step:
  C ~ Dir(alpha 1_N) [N, N] (N = batch size), codes w_i = mapping(z_i) (StyleGAN2: W space; FastGAN: z),
  mixed codes C @ W (broadcast to all style layers, no style mixing);
  G: L_adv(patch D on G(C @ W)) + lambda_G L^G_dist, with L^G_dist = KL(softmax(C) || softmax_j
     cos(G^l(C @ W')_i, G^l(W'_j))) on a fresh batch W' and one random layer l_i in [1, L-2] per row;
  D: L_adv(patch D on reals and mixed fakes) + lambda_D L^D_dist, the same KL on proj(d1) of the 2N images
     [edges G(W); mixes G(C @ W)] (`fsgen.losses.mixup_distance`).
Other steps are plain backbone steps (StyleGAN2: non-saturating loss, style mixing 0.9; FastGAN: hinge
with margins U[0.8, 1] and the discriminator's reconstruction loss: LPIPS-VGG as FastGAN's, whose frozen
weights ride in state["frozen"], or mixdl.recon_loss="l1"). Lazy R1 (scaled by its interval) and
StyleGAN2 path-length regularisation (`fsgen.losses.path_length`, pl_mean in state["extra"]) are phases of
their own. Switches: mixdl.g_dist / mixdl.d_dist (paper Table 5: both off = the plain backbone, no mixup
steps), mixdl.diffaug (DiffAugment on every D input but R1's), mixdl.coeffs (dirichlet, gaussian, uniform).

R1's target, `mixdl.r1_target` (issue 12): the paper says the backbones' objectives are kept as they are,
and the two official commits differ here.
  "image" (default): R1 on the image-level logit, on an ordinary step: the July 2022 code that produced
      the paper's tables (github.com/reyllama/mixdl @58043a9, train_mixdl.py:227,311-316: mixup steps were
      the odd ones, R1 ran at i % 16 == 0 with the ordinary-step flag). Every D weight on the image path
      is regularised; the patch heads are not.
  "patch": R1 on the patch logits of one random map, averaged per image, on a mixup step (HEAD 668d158,
      train_mixdl.py:303-308, after the refactor flipped the flags): only the trunk below the patch maps
      and the patch heads are regularised (on the light 32 px D: 8% of its weights).
  "both": the sum of the two penalties, on a mixup step.
Without mixup steps (the `_nomixdl` twins) R1 is on the image logit whatever the key.

Differences from the official code (HEAD 668d158 unless stated), on purpose:
  - The D step mixes the [N, W] codes (official: it multiplies C into per-layer codes [N, 14, W], a shape
    bug unless N = 14); the D step's patch-discriminated mixups are the mixes of its similarity pass
    (as official, augmented once and used by both passes).
  - Similarities are one normalised matmul (official: Python double loops).
  - r1_every must be a multiple of mixup_every, so every R1 step is of one kind (as the official 16 and 2).
  - FastGAN + MixDL (no official trainer): mixing in z, G features = the block outputs at 8..R/2, patch
    heads on D's 32x32 and 16x16 maps, the spectral-normed projection of D's 8x8 map.
As the official code (both commits): R1 on un-augmented reals; edges and mixes augmented before the D
similarity pass; independent random patch maps for reals and mixes; the path-length running mean not
detached inside its penalty. Noted while reading both commits, kept as HEAD:
  - 58043a9 has no projection head (its sim pass compares d1 itself); HEAD and the paper (Sec. 3.3, "too
    rigid" without it) project d1 with `sim_linear`: `model.D.proj_dim`.
  - Path length runs at i % 4 == 0: on ordinary steps at 58043a9, on mixup steps at HEAD. Here it is its
    own G update every pl_every steps (offset 0); its loss does not depend on the step's kind.
  - The patch heads ("Extra") have their own Adam with D's lr and betas; Adam is per-parameter, so one
    Adam over D and its heads is the same update.
  - The logit the sim pass computes from the projected features is unused (both commits).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_collections

from fsgen import assets, configs, optim
from fsgen.data.batches import draw
from fsgen.data.crop_flip import random_flip
from fsgen.data.diffaug import diff_augment
from fsgen.latent import slerp
from fsgen.losses.gan import g_loss, r1_penalty
from fsgen.losses.mixup_distance import layerwise_mixup_distance, mixing_coefficients, mixup_distance
from fsgen.losses.path_length import path_length_penalty
from fsgen.losses.perceptual import reconstruction_loss
from fsgen.methods.base import Method as BaseMethod
from fsgen.methods.base import Phase, warm_start
from fsgen.methods.mixdl_backbones import BACKBONES, StyleGAN2Backbone, concat_images, slice_images
from fsgen.parallel import shard_batch
from fsgen.update import gradient_step

R1_TARGETS = ("image", "patch", "both")


def default_config(backbone: str = "stylegan2") -> ml_collections.ConfigDict:
  """A complete `mixdl` config at the paper's settings for `backbone` (stylegan2 or fastgan), 256 px."""
  c = configs.loop_defaults()
  c.method = "mixdl"
  c.data = configs.data_defaults(resolution=256, shots=10)
  c.batch_size = 4 if backbone == "stylegan2" else 8
  c.mixdl = dict(
    g_dist=True,
    d_dist=True,
    lambda_g=1000.0,
    lambda_d=1.0,
    mixup_every=2,
    coeffs="dirichlet",
    alpha=1.0,
    kl_direction="code",
    diffaug="",
    flip=True,
    r1_gamma=10.0,
    r1_every=16,
    r1_target="image",
    pl_weight=2.0,
    pl_every=4,
    pl_batch_shrink=2,
    pl_decay=0.01,
    style_mixing=0.9,
    ema_decay=0.5 ** (32 / 10000),
    recon_weight=1.0,
    recon_loss="lpips_vgg",
  )
  if backbone == "stylegan2":
    c.model = dict(
      backbone="stylegan2",
      G=dict(z_dim=512, w_dim=512, n_mlp=8, lr_mlp=0.01, channel_base=32768, channel_max=512),
      D=dict(channel_base=32768, channel_max=512, mbstd_group=4, proj_dim=0, patch_lrelu=True),
    )
    # StyleGAN2's lazy-regularisation scaling of lr and beta2 (intervals 4 for G, 16 for D).
    c.optim = dict(
      G=dict(name="adam", learning_rate=0.002 * 4 / 5, b1=0.0, b2=0.99 ** (4 / 5)),
      D=dict(name="adam", learning_rate=0.002 * 16 / 17, b1=0.0, b2=0.99 ** (16 / 17)),
    )
  elif backbone == "fastgan":
    c.model = dict(backbone="fastgan", G=dict(z_dim=256, width=64), D=dict(width=64, proj_dim=512))
    c.optim = dict(
      G=dict(name="adam", learning_rate=2e-4, b1=0.5, b2=0.999),
      D=dict(name="adam", learning_rate=2e-4, b1=0.5, b2=0.999),
    )
    c.mixdl.update(r1_gamma=0.0, pl_weight=0.0, style_mixing=0.0, ema_decay=0.999, diffaug="color,translation")
  else:
    raise ValueError(f"unknown MixDL backbone {backbone!r} (known: stylegan2, fastgan)")
  c.total_steps = 120_000
  return c


class Method(BaseMethod):
  def __init__(self, config, info):
    super().__init__(config, info)
    name = config.model.backbone
    if name not in BACKBONES:
      raise ValueError(f"unknown config.model.backbone {name!r} (known: {', '.join(BACKBONES)})")
    self.bb = BACKBONES[name](config)
    self.tx = {"G": optim.build(config.optim.G), "D": optim.build(config.optim.D)}
    self.hp = hp = config.mixdl
    self.n = config.batch_size
    self.mixup = hp.g_dist or hp.d_dist
    if self.mixup and hp.mixup_every < 1:
      raise ValueError(f"mixdl.mixup_every must be >= 1, got {hp.mixup_every}")
    if hp.r1_target not in R1_TARGETS:
      raise ValueError(f"mixdl.r1_target must be one of {', '.join(R1_TARGETS)}, got {hp.r1_target!r}")
    if self.mixup and hp.r1_gamma > 0 and hp.r1_every % hp.mixup_every:
      raise ValueError(f"mixdl.r1_every={hp.r1_every} must be a multiple of mixdl.mixup_every={hp.mixup_every}")
    # Without mixup steps there are no patch steps: R1 on the image logit, as the official baseline.
    self.r1_target = hp.r1_target if self.mixup else "image"
    if self.mixup and hp.g_dist and self.bb.num_feats < 3:
      raise ValueError("the generator distance needs at least 3 generator feature maps (resolution too low)")
    if hp.recon_loss not in ("lpips_vgg", "l1"):
      raise ValueError(f"mixdl.recon_loss must be 'lpips_vgg' or 'l1', got {hp.recon_loss!r}")
    if name == "fastgan" and hp.recon_loss == "lpips_vgg":
      self._lpips = assets.load("lpips_vgg")  # host arrays; fetched once (see fsgen.assets)

  # ---- state ---------------------------------------------------------------------------------------
  def init(self, key, data, prior=None):
    params, spectral = self.bb.init(key)
    params = warm_start(params, prior)  # config.init_from
    state = {
      "params": params,
      "opt": {n: self.tx[n].init(p) for n, p in params.items()},
      "ema": {"G": params["G"]},
      "extra": {"spectral": spectral, "pl_mean": jnp.zeros((), jnp.float32)},
    }
    if self.config.model.backbone == "fastgan" and self.hp.recon_loss == "lpips_vgg":
      state["frozen"] = {"lpips": jax.tree.map(jnp.asarray, self._lpips)}  # in the state, never trained
    return state

  def _step(self, state, net, loss_fn):
    """gradient_step; loss_fn returns (loss, metrics, aux) and the aux outputs (new spectral stats of `net`,
    pl_mean) are written into state["extra"]."""
    new, metrics, aux = gradient_step(state, net, self.tx, loss_fn, has_aux=True)
    extra = dict(new["extra"])
    if "spectral" in aux:
      extra["spectral"] = {**extra["spectral"], net: aux["spectral"]}
    if "pl_mean" in aux:
      extra["pl_mean"] = aux["pl_mean"]
    return {**new, "extra": extra}, metrics

  # ---- pieces --------------------------------------------------------------------------------------
  def _reals(self, key, data):
    kx, kf = jax.random.split(key)
    x = draw(kx, data["images"], self.n)
    return random_flip(kf, x) if self.hp.flip else x

  def _aug(self, key, images):
    return jax.tree.map(lambda x: diff_augment(key, x, self.hp.diffaug), images)

  @staticmethod
  def _pick_patch(key, out):
    """`fn` of one of D's patch logit maps [B, h, w] chosen uniformly: returns pick(fn) -> fn(map)."""
    index = jax.random.randint(key, (), 0, len(out["patches"]))
    return lambda fn: jnp.stack([fn(p) for p in out["patches"]])[index]

  def _mix_codes(self, g, key):
    """(coefficients C [N, N], edge codes W [N, ...], mixed codes C @ W)."""
    kc, kz = jax.random.split(key)
    c = mixing_coefficients(kc, self.n, kind=self.hp.coeffs, alpha=self.hp.alpha)
    w = self.bb.codes(g, shard_batch(jax.random.normal(kz, (self.n, self.bb.z_dim))))
    return c, w, c @ w

  # ---- phases --------------------------------------------------------------------------------------
  def d_step(self, state, data, key):
    """Plain D step: adversarial loss on reals and ordinary (style-mixed) fakes (+ FastGAN recon)."""
    kx, kz, kn, ka, kl, kp = jax.random.split(key, 6)
    g, spec = state["params"]["G"], state["extra"]["spectral"]
    real = self.bb.real_views(self._reals(kx, data))
    fake = self.bb.generate(g, spec["G"], self.bb.mixed_codes(g, kz, self.n, self.hp.style_mixing), kn, train=False)[0]
    fake = jax.lax.stop_gradient(fake)

    def loss_fn(d):
      part = jax.random.randint(kp, (), 0, 4)
      out_r, s = self.bb.discriminate(d, spec["D"], self._aug(ka, real), train=True, part=part)
      out_f, s = self.bb.discriminate(d, s, self._aug(jax.random.fold_in(ka, 1), fake), train=True)
      adv = self.bb.d_adv(kl, out_r["logit"], out_f["logit"])
      metrics = {"D/adv": adv, "D/real_logit": out_r["logit"].mean(), "D/fake_logit": out_f["logit"].mean()}
      loss = adv + self._recon(state, out_r, real, part, metrics)
      return loss, metrics, {"spectral": s}

    return self._step(state, "D", loss_fn)

  def _recon(self, state, out, real, part, metrics):
    if "recon" not in out:
      return 0.0
    lpips_params = state["frozen"]["lpips"] if self.hp.recon_loss == "lpips_vgg" else None
    metrics["D/recon"] = reconstruction_loss(out["recon"], real[0], part, lpips_params)
    return self.hp.recon_weight * metrics["D/recon"]

  def d_mix_step(self, state, data, key):
    """Mixup D step: patch loss on reals and mixed fakes + lambda_D * L^D_dist on the 2N sim pass.

    As the official code: edges and mixes are augmented before both passes (the patch loss sees the same
    augmented mixes as the sim pass), and reals and mixes each get their own random patch map.
    """
    kx, km, kn, ka, kl, kp, kr, kf = jax.random.split(key, 8)
    g, spec, n = state["params"]["G"], state["extra"]["spectral"], self.n
    real = self.bb.real_views(self._reals(kx, data))
    c, w, w_mix = self._mix_codes(g, km)
    images = jax.lax.stop_gradient(self.bb.generate(g, spec["G"], jnp.concatenate([w, w_mix]), kn, train=False)[0])
    edges = self._aug(jax.random.fold_in(ka, 1), slice_images(images, 0, n))
    mixes = self._aug(jax.random.fold_in(ka, 2), slice_images(images, n, 2 * n))

    def loss_fn(d):
      part = jax.random.randint(kp, (), 0, 4)
      out_r, s = self.bb.discriminate(d, spec["D"], self._aug(ka, real), train=True, part=part)
      out_m, s = self.bb.discriminate(d, s, mixes, train=True)
      maps = len(out_r["patches"])
      i_real, i_mix = (jax.random.randint(k, (), 0, maps) for k in (kr, kf))
      pairs = [self.bb.d_adv(kl, pr, pm) for pr in out_r["patches"] for pm in out_m["patches"]]
      adv = jnp.stack(pairs)[i_real * maps + i_mix]
      metrics = {"D/patch_adv": adv}
      loss = adv + self._recon(state, out_r, real, part, metrics)
      if self.hp.d_dist:
        out_s, s = self.bb.discriminate(d, s, concat_images(edges, mixes), train=True)
        dist = mixup_distance(
          mix_feats=out_s["sim"][n:], edge_feats=out_s["sim"][:n], coeffs=c, direction=self.hp.kl_direction
        )
        metrics["D/mixdl_kl"] = dist
        loss = loss + self.hp.lambda_d * dist
      return loss, metrics, {"spectral": s}

    return self._step(state, "D", loss_fn)

  def r1_step(self, state, data, key):
    """Lazy R1 (x gamma/2 x interval) on clean reals (flipped, never DiffAugmented: both official commits)
    against `self.r1_target`: the image-level logit, the patch logits of one random map averaged per
    image, or both (the sum of the two penalties)."""
    kx, kp = jax.random.split(key)
    spec = state["extra"]["spectral"]["D"]
    real = self.bb.real_views(self._reals(kx, data))
    scale = 0.5 * self.hp.r1_gamma * self.hp.r1_every
    per_image = lambda v: v.reshape(v.shape[0], -1).mean(axis=1)  # [B, ...] -> [B]

    def loss_fn(d):
      def logits(x, target):
        out = self.bb.discriminate(d, spec, x if not isinstance(real, tuple) else (x, real[1]), train=False)[0]
        return per_image(out["logit"]) if target == "image" else self._pick_patch(kp, out)(per_image)

      x = real[0] if isinstance(real, tuple) else real
      targets = ("image", "patch") if self.r1_target == "both" else (self.r1_target,)
      terms = {t: r1_penalty(lambda v, t=t: logits(v, t), x) for t in targets}
      r1 = sum(terms.values())
      metrics = {"D/r1": r1}
      if len(terms) > 1:
        metrics.update({f"D/r1_{t}": v for t, v in terms.items()})
      return scale * r1, metrics, {}

    return self._step(state, "D", loss_fn)

  def g_step(self, state, data, key):
    """Plain G step: adversarial loss of ordinary (style-mixed) fakes on the image-level D."""
    kz, kn, ka = jax.random.split(key, 3)
    spec = state["extra"]["spectral"]

    def loss_fn(g):
      fake, _, s = self.bb.generate(
        g, spec["G"], self.bb.mixed_codes(g, kz, self.n, self.hp.style_mixing), kn, train=True
      )
      out, _ = self.bb.discriminate(state["params"]["D"], spec["D"], self._aug(ka, fake), train=False)
      adv = g_loss(self.bb.gan_loss, fake_logits=out["logit"])
      return adv, {"G/adv": adv}, {"spectral": s}

    return self._step(state, "G", loss_fn)

  def g_mix_step(self, state, data, key):
    """Mixup G step: patch adversarial loss of G(C @ W) + lambda_G * L^G_dist on a fresh batch W'."""
    km, kd, kn, ka, kp, kl = jax.random.split(key, 6)
    spec, n = state["extra"]["spectral"], self.n

    def loss_fn(g):
      c, _, w_adv = self._mix_codes(g, km)
      codes = [w_adv]
      if self.hp.g_dist:
        w_edge = self.bb.codes(g, shard_batch(jax.random.normal(kd, (n, self.bb.z_dim))))
        codes += [w_edge, c @ w_edge]
      images, feats, s = self.bb.generate(g, spec["G"], jnp.concatenate(codes), kn, train=True, feats=self.hp.g_dist)
      out, _ = self.bb.discriminate(
        state["params"]["D"], spec["D"], self._aug(ka, slice_images(images, 0, n)), train=False
      )
      adv = self._pick_patch(kp, out)(lambda p: g_loss(self.bb.gan_loss, fake_logits=p))
      metrics, loss = {"G/patch_adv": adv}, adv
      if self.hp.g_dist:
        # One random layer per mixed sample in {1, ..., L-2} (never the first or the last map).
        layers = jax.random.randint(kl, (n,), 0, self.bb.num_feats - 2)
        dist = layerwise_mixup_distance(
          mix_feats=[f[2 * n :] for f in feats[1:-1]],
          edge_feats=[f[n : 2 * n] for f in feats[1:-1]],
          coeffs=c,
          layers=layers,
          direction=self.hp.kl_direction,
        )
        metrics["G/mixdl_kl"] = dist
        loss = loss + self.hp.lambda_g * dist
      return loss, metrics, {"spectral": s}

    return self._step(state, "G", loss_fn)

  def pl_step(self, state, data, key):
    """StyleGAN2 path-length regularisation (fsgen.losses.path_length), pl_mean in state["extra"]."""
    kz, kn, ky = jax.random.split(key, 3)
    n = max(1, self.n // self.hp.pl_batch_shrink)
    pl_mean = state["extra"]["pl_mean"]

    def loss_fn(g):
      ws = self.bb.mixed_codes(g, kz, n, self.hp.style_mixing)
      if ws.ndim == 2:
        ws = jnp.broadcast_to(ws[:, None], (n, self.bb.num_ws, ws.shape[-1]))
      synth = lambda w: self.bb.generate(g, {}, w, kn, train=False)[0]
      penalty, new_mean = path_length_penalty(synth, ws, ky, pl_mean, self.hp.pl_decay)
      loss = self.hp.pl_weight * self.hp.pl_every * penalty
      return loss, {"G/pl": penalty, "G/pl_mean": new_mean}, {"pl_mean": new_mean}

    return self._step(state, "G", loss_fn)

  def phases(self):
    hp, ema = self.hp, {"G": self.hp.ema_decay}
    k = hp.mixup_every if self.mixup else 1
    plain = [o for o in range(k) if not (self.mixup and o == 0)]
    suffix = lambda o: "" if len(plain) == 1 else str(o)
    phases = [Phase("D" + suffix(o), self.d_step, every=k, offset=o) for o in plain]
    if self.mixup:
      phases.append(Phase("D_mix", self.d_mix_step, every=k, offset=0))
    if hp.r1_gamma > 0:
      # On the image logit R1 follows an ordinary D step (step 1 mod r1_every; the paper-era code, whose
      # mixup steps were the odd ones, R1'd on even ordinary steps); on the patch logits a mixup step (HEAD).
      r1_offset = 1 if self.mixup and self.r1_target == "image" and k > 1 else 0
      phases.append(Phase("D_r1", self.r1_step, every=hp.r1_every, offset=r1_offset))
    phases += [Phase("G" + suffix(o), self.g_step, every=k, offset=o, ema=ema) for o in plain]
    if self.mixup:
      phases.append(Phase("G_mix", self.g_mix_step, every=k, offset=0, ema=ema))
    if hp.pl_weight > 0 and isinstance(self.bb, StyleGAN2Backbone):
      phases.append(Phase("G_pl", self.pl_step, every=hp.pl_every))
    return phases

  # ---- sampling ------------------------------------------------------------------------------------
  def sampling_params(self, state):
    params = {"G": state["ema"]["G"]}
    if jax.tree.leaves(state["extra"]["spectral"]["G"]):
      params["G_spectral"] = state["extra"]["spectral"]["G"]
    return params

  def sample(self, params, key, n):
    kz, kn = jax.random.split(key)
    z = jax.random.normal(kz, (n, self.bb.z_dim))
    g = params["G"]
    images = self.bb.generate(g, params.get("G_spectral", {}), self.bb.codes(g, z), kn, train=False)[0]
    return jnp.clip(self.bb.image(images), -1.0, 1.0)

  def interpolate(self, params, key, n, ts):
    """Latent paths for PPL: [n, len(ts), H, W, C] in [-1, 1], lerp in W (StyleGAN2) or slerp in z
    (FastGAN), with the same noise inputs along each path."""
    k0, k1, kn = jax.random.split(key, 3)
    g, spec = params["G"], params.get("G_spectral", {})
    z0, z1 = (jax.random.normal(k, (n, self.bb.z_dim)) for k in (k0, k1))
    if isinstance(self.bb, StyleGAN2Backbone):
      a, b = self.bb.codes(g, z0), self.bb.codes(g, z1)
      path = lambda t: a + t * (b - a)
    else:
      path = lambda t: slerp(z0, z1, t)
    frames = [self.bb.image(self.bb.generate(g, spec, path(float(t)), kn, train=False)[0]) for t in ts]
    return jnp.clip(jnp.stack(frames, axis=1), -1.0, 1.0)
