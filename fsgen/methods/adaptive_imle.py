"""`adaptive_imle`: Adaptive IMLE (AdaIMLE, official code github.com/mehranagh20/AdaIMLE), and plain IMLE
(Li & Malik 2018) as its special case `imle.adaptive = False` (fsgen.methods.imle).

Every training image x_i keeps a latent (z_i, per-resolution noise maps s_i) matched to it; the
generator is trained to pull G(z_i, s_i) toward x_i under the distance L of fsgen.losses.imle
(LPIPS + 0.1 pixel MSE). Per-example state: z_i, s_i, the distance d_i, the threshold tau_i, the epochs
since the last re-match, whether the example was ever matched and whether it used the current pool.

Phases (an "epoch" is one shuffled pass over the n images, n // batch_size steps):
  "rematch" (the first step of each epoch), official order:
    1. last_i += 1;  d_i = L(G(z_i, s_i), x_i) with the current G (the OLD latent). In IMLE mode d only
       matters on forced epochs, so it is measured only then (measure_every_epoch=True: every epoch, as
       the official code logs it).
    2. to_update_i = (adaptive and d_i < tau_i and last_i >= staleness) or last_i >= force_resample.
    3. If any: tau_i <- (1 - change_coef) d_i (the OLD latent's distance; for an example matched for the
       first time, the new match's: the official code reads garbage latents at epoch 0). The pool of
       M = pool_factor * n samples (fsgen.methods.imle_pool) is regenerated when a re-matched example
       already used the current pool (pool_reuse, the official rule, sampler.py imle_sample_force;
       otherwise a fresh pool every round); its key and features are kept, so between regenerations the
       re-matched examples are searched against the stored features (those of the generator that made
       the pool). For i in to_update: z_i <- z_pool[nn(i)] + perturb * N(0, I), s_i <- s_pool[nn(i)],
       always accepted; last_i <- 0.
    4. A new permutation of the n examples for the epoch.
  "G": one AdamW step on mean_i L(G(z_i, s_i), x_i) over the epoch's next batch (+ EMA of G).
Every set is handled with [n] masks, so nothing retraces. IMLE: step 2 without its adaptive term.
The training images' features phi(x_i) are computed once in init and kept (the loss target, the distance
pass and the search queries), as the official code projects the data once (init_projection); the distance's
frozen LPIPS weights (fsgen.losses.imle) live in state["frozen"]["distance"].

Search metric. fsgen searches the loss itself: phi is the exact feature form of L (per-layer LPIPS taps
divided by sqrt(H_l W_l) and the pixel term included), so the nearest sample is the one with the smallest
L. The official search differs in four ways (sampler.py get_projected): per-layer features are NOT divided
by the layer's H*W ("TODO divide?"), so high-resolution layers dominate; there is no pixel term; each layer
is randomly projected (800 dims in all); and DCI finds the nearest approximately, per 1,024-sample chunk.
Searching L keeps the re-match, the thresholds and the loss consistent (a re-match picks the sample the
loss then pulls), and on a CPU-sized pool the exact search is cheap (bench/nn_search.py). proj_dim > 0
searches a Gaussian projection of phi instead (the loss stays exact).

Config: config.model.G.{blocks, width, map_layers, z_dim, gelu_approximate, noise_max_res (official
max_hierarchy, 0 = every resolution), zero_noise_weights}, config.optim.G (AdamW), config.imle.{adaptive,
change_coef, staleness, force_resample, pool_factor, pool_reuse, chunk, perturb, features, lpips_coef,
l2_coef, lpips_size, proj_dim, max_feature_bytes, warmup_steps, ema_decay, sample_from, eval_batch,
init_threshold, measure_every_epoch}, config.batch_size, config.data.{resolution, channels};
config.init_from warm-starts G.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_collections
import optax

from fsgen import assets, configs, optim
from fsgen.data.preprocess import to_float
from fsgen.losses import imle as imle_loss
from fsgen.methods.base import Method as BaseMethod
from fsgen.methods.base import Phase, warm_start
from fsgen.methods.imle_pool import DEFAULT_MAX_BYTES, Pool, fits
from fsgen.nets import imle_generator as ig
from fsgen.parallel import shard_batch
from fsgen.update import gradient_step


def default_config() -> ml_collections.ConfigDict:
  """The official `--hps fewshot` settings (256 px, 100-shot Panda row of the reproduce scripts)."""
  c = configs.loop_defaults()
  c.method = "adaptive_imle"
  c.data = configs.data_defaults(resolution=256, channels=3)
  c.batch_size = 4
  c.model = dict(
    G=dict(
      blocks=ig.OFFICIAL_BLOCKS_256,
      width=384,
      map_layers=8,
      z_dim=1024,
      gelu_approximate=False,
      noise_max_res=0,  # spatial noise up to this resolution (official max_hierarchy 256: all); 0 = all
      zero_noise_weights=False,  # True: noise weights start at 0 (official: N(0, 1))
    )
  )
  c.optim = dict(G=dict(name="adamw", learning_rate=1e-4, b1=0.9, b2=0.9, weight_decay=0.01))
  c.imle = dict(
    adaptive=True,  # False: plain IMLE (re-match every force_resample epochs only)
    change_coef=0.01,  # gamma: tau <- (1 - gamma) d at a re-match
    staleness=5,  # epochs before an example may be re-matched by the adaptive test
    force_resample=30,  # epochs after which an example is always re-matched
    pool_factor=200,  # pool size M = pool_factor * n (official: 100-200, "around 10k")
    pool_reuse=True,  # official: a new pool only when a re-matched example already used the current one
    chunk=64,  # pool samples generated per step
    perturb=1e-3,  # jitter added to a matched z (imle_perturb_coef)
    features="lpips_vgg",
    lpips_coef=1.0,
    l2_coef=0.1,
    lpips_size=0,  # side LPIPS sees (0: the data resolution, official); e.g. 64 for 32 px images
    proj_dim=0,  # > 0: search in a random projection (loss stays exact)
    max_feature_bytes=0,  # features held at once (pool, training images); 0 = 1 GiB
    warmup_steps=100,  # linear LR warm-up from 0, then constant
    ema_decay=0.9999,
    sample_from="ema",  # "ema" or "raw": which generator `sample`/exports use
    eval_batch=16,  # batch of the per-epoch distance pass
    init_threshold=1.0,  # official change_threshold (overwritten at the first match)
    measure_every_epoch=False,  # IMLE mode: also measure d on epochs without a forced re-match
  )
  return c


def rematch_mask(d, tau, last, *, adaptive: bool, staleness: int, force_resample: int):
  """Official to_update test [n] bool: (adaptive & d < tau & last >= staleness) | last >= force_resample.

  d: [n] distance of each example's current latent; tau: [n] thresholds; last: [n] epochs since the
  example's last re-match (already incremented for this epoch).
  """
  forced = last >= force_resample
  if not adaptive:
    return forced
  return ((d < tau) & (last >= staleness)) | forced


def update_thresholds(mask, tau, d_old, d_new, matched, change_coef: float):
  """tau_i <- (1 - gamma) d_i for re-matched i (official rule), else unchanged; [n] each.

  d_old: distance of the latent being replaced (official); d_new: of the new match, used instead where
  the example was never matched before (matched = False).
  """
  d = jnp.where(matched, d_old, d_new)
  return jnp.where(mask, (1.0 - change_coef) * d, tau)


def needs_new_pool(mask, pool_used, reuse: bool):
  """Official rule (sampler.py imle_sample_force): regenerate when a re-matched example already used the
  current pool (a re-match against it would find the same sample); without reuse, every round."""
  return jnp.any(mask & pool_used) if reuse else jnp.any(mask)


class Method(BaseMethod):
  def __init__(self, config, info):
    super().__init__(config, info)
    g, hp = config.model.G, config.imle
    self.hp = hp
    if hp.sample_from not in ("ema", "raw"):
      raise ValueError(f"config.imle.sample_from must be 'ema' or 'raw', got {hp.sample_from!r}")
    self.blocks, self.z_dim, self.noise_max_res = g.blocks, g.z_dim, g.get("noise_max_res", 0)
    out_res = ig.parse_blocks(g.blocks)[-1][0]
    if out_res != config.data.resolution:
      raise ValueError(
        f"config.model.G.blocks ends at {out_res} px but config.data.resolution is {config.data.resolution}"
      )
    self.G = self.mixed(
      ig.Generator(
        blocks=g.blocks,
        width=g.width,
        map_layers=g.map_layers,
        channels=config.data.channels,
        gelu_approximate=g.gelu_approximate,
        noise_max_res=self.noise_max_res,
        zero_noise_weights=g.get("zero_noise_weights", False),
      )
    )
    self.dist = imle_loss.build(
      hp.features,
      resolution=config.data.resolution,
      channels=config.data.channels,
      l2_coef=hp.l2_coef,
      lpips_coef=hp.lpips_coef,
      lpips_size=hp.get("lpips_size", 0),
    )
    lr = optax.warmup_constant_schedule(0.0, config.optim.G.learning_rate, max(1, hp.warmup_steps))
    self.tx = {"G": optim.build({**dict(config.optim.G), "learning_rate": lr})}
    self.batch_size = config.batch_size
    if info.full_batches < 1:
      raise ValueError(f"config.batch_size={self.batch_size} exceeds the {info.num_images} training images")
    self.steps_per_epoch = info.full_batches  # official epoch: one shuffled pass in whole batches
    n = info.num_images
    self.max_bytes = hp.get("max_feature_bytes", 0) or DEFAULT_MAX_BYTES
    self.cache_train = fits(n, self.dist.dim, self.max_bytes)
    self.proj_key = jax.random.key(config.seed + 7919)  # one fixed projection for the whole run
    num = int(hp.pool_factor * n)
    self.pool = Pool(
      size=num,
      chunk=min(hp.chunk, num),
      dim=hp.proj_dim or self.dist.dim,
      latents_fn=lambda key, ids: ig.latents_from_ids(key, ids, self.z_dim, self.blocks, self.noise_max_res),
      features_fn=self._sample_features,
      max_bytes=self.max_bytes,
    )
    # Reused pools keep their features in the state when they fit; otherwise they are regenerated from
    # the stored key (same samples, features of the current generator).
    self.hold_pool = bool(hp.get("pool_reuse", True)) and self.pool.fits
    # Frozen distance weights (host numpy, fetched into the asset cache when missing); state["frozen"].
    self._weights = assets.load(self.dist.asset) if self.dist.asset else None

  # ---- helpers ----------------------------------------------------------------------------------------

  def _generate(self, g_params, z, noise):
    return self.G.apply({"params": g_params}, z, noise)

  def _project(self, feats):
    """phi -> the search space: phi itself, or its Gaussian projection (proj_dim > 0; drawn in the trace)."""
    if not self.hp.proj_dim:
      return feats
    return feats @ imle_loss.projection(self.proj_key, self.dist.dim, self.hp.proj_dim)

  def _sample_features(self, weights, g_params, z, noise):
    """Search-space features [K, D] of the generated samples G(z, noise)."""
    z, noise = shard_batch(z), [shard_batch(m) for m in noise]
    return self._project(self.dist.features(weights, self._generate(g_params, z, noise)))

  def _batches(self, n: int):
    """Index batches [k, eval_batch] covering 0..n-1 (the last one padded with index 0)."""
    bs = min(self.hp.eval_batch, n)
    return jnp.concatenate([jnp.arange(n), jnp.zeros(-n % bs, jnp.int32)]).reshape(-1, bs)

  def _image_features(self, weights, images):
    """phi(x_i) [n, D] of the uint8 training images, in batches of eval_batch."""
    n = images.shape[0]
    out = jax.lax.map(lambda i: self.dist.features(weights, to_float(images[i])), self._batches(n))
    return out.reshape(-1, out.shape[-1])[:n]

  def _train_features(self, weights, ex, images, idx=None):
    """phi(x_i) of the examples idx (all when None): the cache, or computed now when it does not fit."""
    if self.cache_train:
      return ex["train_feats"] if idx is None else ex["train_feats"][idx]
    if idx is None:
      return self._image_features(weights, images)
    return self.dist.features(weights, to_float(images[idx]))

  def _distances(self, weights, g_params, z, noise, images, ex):
    """L(G(z_i, s_i), x_i) for all n examples, in batches of eval_batch -> [n] (no gradient)."""
    n = images.shape[0]

    def one(i):
      feats = self.dist.features(weights, self._generate(g_params, z[i], [m[i] for m in noise]))
      target = self._train_features(weights, ex, images, i)
      return jnp.sum(jnp.square(feats - target), axis=1)

    return jax.lax.map(one, self._batches(n)).reshape(-1)[:n]

  # ---- interface --------------------------------------------------------------------------------------

  def init(self, key, data, prior=None):
    images = data["images"]
    n = images.shape[0]
    kg, kl = jax.random.split(key)
    z, noise = ig.draw_latents(kl, n, self.z_dim, self.blocks, self.noise_max_res)
    params = warm_start({"G": self.G.init(kg, z[:1], [m[:1] for m in noise])["params"]}, prior)
    weights = None if self._weights is None else jax.tree.map(jnp.asarray, self._weights)
    extra = {
      "z": z,
      "noise": noise,
      "dist": jnp.zeros((n,), jnp.float32),
      "tau": jnp.full((n,), self.hp.init_threshold, jnp.float32),
      # Starts at force_resample - 1, so epoch 0 (after its += 1) re-matches every example.
      "last": jnp.full((n,), self.hp.force_resample - 1, jnp.int32),
      "matched": jnp.zeros((n,), bool),
      "pool_used": jnp.ones((n,), bool),  # official sample_pool_usage starts True: epoch 0 makes a pool
      "pool_key": jax.random.key_data(jax.random.fold_in(key, 1)),  # raw key data of the current pool
      "perm": jnp.arange(n, dtype=jnp.int32),
      "rounds": jnp.zeros((), jnp.int32),  # re-match rounds so far
      "pools": jnp.zeros((), jnp.int32),  # pools generated so far
      "new_pool": jnp.zeros((), jnp.int32),  # pools generated in the last round (0 or 1)
      "rematched": jnp.zeros((), jnp.int32),  # examples re-matched in the last round
      "rematched_total": jnp.zeros((), jnp.int32),
    }
    if self.cache_train:
      extra["train_feats"] = self._image_features(weights, images)
    if self.hold_pool:
      extra["pool_feats"] = jnp.zeros((self.pool.padded, self.pool.dim), jnp.float32)
      extra["pool_sq"] = jnp.zeros((self.pool.padded,), jnp.float32)
    state = {"params": params, "opt": {"G": self.tx["G"].init(params["G"])}, "ema": {"G": params["G"]}, "extra": extra}
    if weights is not None:  # a frozen network: in the state, never differentiated
      state["frozen"] = {"distance": weights}
    return state

  @staticmethod
  def _frozen(state):
    return state.get("frozen", {}).get("distance")

  def _rematch(self, weights, g, images, ex, mask, d_old, key):
    """Re-matches the examples in `mask` [n] (step 3 of the module docstring); returns the new extra."""
    hp = self.hp
    kpool, kjit = jax.random.split(key)
    new_pool = needs_new_pool(mask, ex["pool_used"], hp.get("pool_reuse", True))
    pool_key = jnp.where(new_pool, jax.random.key_data(kpool), ex["pool_key"])
    pool = jax.random.wrap_key_data(pool_key)
    queries = self._project(self._train_features(weights, ex, images))
    held, out = None, {}
    if self.hold_pool:
      keep = lambda: (ex["pool_feats"], ex["pool_sq"])
      held = jax.lax.cond(new_pool, lambda: self.pool.features(weights, g, pool), keep)
      out = {"pool_feats": held[0], "pool_sq": held[1]}
    ids, d_search = self.pool.search(queries, weights, g, pool, held)
    z_new, noise_new = self.pool.latents_fn(pool, ids)
    z_new = z_new + hp.perturb * jax.random.normal(kjit, z_new.shape)
    sel = lambda new, old: jnp.where(mask.reshape((-1,) + (1,) * (old.ndim - 1)), new, old)
    z, noise = sel(z_new, ex["z"]), [sel(a, b) for a, b in zip(noise_new, ex["noise"])]
    if hp.proj_dim:  # the projected search distance is not L: measure the latents now held
      d_new = self._distances(weights, g, z, noise, images, ex)
    else:  # the search distance is L itself (up to the jitter; stale when the pool's features are reused)
      d_new = jnp.where(mask, d_search, d_old)
    return {
      **ex,
      **out,
      "z": z,
      "noise": noise,
      "dist": d_new,
      "tau": update_thresholds(mask, ex["tau"], d_old, d_new, ex["matched"], hp.change_coef),
      "matched": ex["matched"] | mask,
      "pool_used": jnp.where(new_pool, mask, ex["pool_used"] | mask),
      "pool_key": pool_key,
      "pools": ex["pools"] + new_pool.astype(jnp.int32),
      "new_pool": new_pool.astype(jnp.int32),
      "rounds": ex["rounds"] + 1,
    }

  def rematch_step(self, state, data, key):
    """The "rematch" phase, at the first step of each epoch (see the module docstring)."""
    images = data["images"]
    n = images.shape[0]
    hp, weights, g = self.hp, self._frozen(state), state["params"]["G"]
    kmatch, kperm = jax.random.split(key)
    ex = dict(state["extra"])
    last = ex["last"] + 1
    measure = lambda: self._distances(weights, g, ex["z"], ex["noise"], images, ex)
    skip = lambda ex, d: {**ex, "dist": d, "new_pool": jnp.zeros((), jnp.int32)}
    if hp.adaptive or hp.get("measure_every_epoch", False):
      d_old = measure()
      mask = rematch_mask(
        d_old, ex["tau"], last, adaptive=hp.adaptive, staleness=hp.staleness, force_resample=hp.force_resample
      )
      rematch = lambda ex: self._rematch(weights, g, images, ex, mask, d_old, kmatch)
      ex = jax.lax.cond(jnp.any(mask), rematch, lambda ex: skip(ex, d_old), ex)
    else:  # IMLE: only forced re-matches, whose thresholds are unused; d is measured only when they happen
      mask = last >= hp.force_resample
      ex = jax.lax.cond(
        jnp.any(mask),
        lambda ex: self._rematch(weights, g, images, ex, mask, measure(), kmatch),
        lambda ex: skip(ex, ex["dist"]),
        ex,
      )
    count = jnp.sum(mask, dtype=jnp.int32)
    ex = {
      **ex,
      "last": jnp.where(mask, 0, last),
      "perm": jax.random.permutation(kperm, n).astype(jnp.int32),
      "rematched": count,
      "rematched_total": ex["rematched_total"] + count,
    }
    metrics = {
      "imle/d_mean": ex["dist"].mean(),
      "imle/d_max": ex["dist"].max(),
      "imle/tau_mean": ex["tau"].mean(),
      "imle/rematched": ex["rematched"].astype(jnp.float32),
      "imle/rounds": ex["rounds"].astype(jnp.float32),
      "imle/pools": ex["pools"].astype(jnp.float32),
      "imle/new_pool": ex["new_pool"].astype(jnp.float32),
    }
    return {**state, "extra": ex}, metrics

  def g_step(self, state, data, key):
    images, ex, weights = data["images"], state["extra"], self._frozen(state)
    start = (state["step"] % self.steps_per_epoch) * self.batch_size
    idx = jax.lax.dynamic_slice(ex["perm"], (start,), (self.batch_size,))
    z, noise = shard_batch(ex["z"][idx]), [shard_batch(m[idx]) for m in ex["noise"]]
    target = jax.lax.stop_gradient(shard_batch(self._train_features(weights, ex, images, idx)))

    def loss_fn(g):
      feats = self.dist.features(weights, self._generate(g, z, noise))
      loss = jnp.mean(jnp.sum(jnp.square(feats - target), axis=1))
      return loss, {"G/loss": loss}

    return gradient_step(state, "G", self.tx, loss_fn)

  def phases(self):
    return [
      Phase("rematch", self.rematch_step, every=self.steps_per_epoch),  # the first step of each epoch
      Phase("G", self.g_step, ema={"G": self.hp.ema_decay}),
    ]

  def sampling_params(self, state):
    return {"G": state["ema" if self.hp.sample_from == "ema" else "params"]["G"]}

  def sample(self, params, key, n):
    """n fresh samples: z ~ N(0, I) and fresh N(0, 1) noise maps (official test-time sampling)."""
    z, noise = ig.draw_latents(key, n, self.z_dim, self.blocks, self.noise_max_res)
    return self._generate(params["G"], z, noise)
