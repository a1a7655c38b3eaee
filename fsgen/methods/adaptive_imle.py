"""`adaptive_imle`: Adaptive IMLE (AdaIMLE, official code github.com/mehranagh20/AdaIMLE), and plain IMLE
(Li & Malik 2018) as its special case `imle.adaptive = False` (fsgen.methods.imle).

Every training image x_i keeps a latent (z_i, per-resolution noise maps s_i) matched to it; the
generator is trained to pull G(z_i, s_i) toward x_i under the distance L of fsgen.losses.imle
(LPIPS + 0.1 pixel MSE). Per-example state: z_i, s_i, the distance d_i, the threshold tau_i, the epochs
since the last re-match and whether the example was ever matched.

Phases (an "epoch" is one shuffled pass over the n images, n // batch_size steps):
  "rematch" (every step; does work only at the first step of an epoch, under lax.cond), official order:
    1. last_i += 1;  d_i = L(G(z_i, s_i), x_i) with the current G (the OLD latent).
    2. to_update_i = (adaptive and d_i < tau_i and last_i >= staleness) or last_i >= force_resample.
    3. If any: a fresh pool of M = pool_factor * n samples, sample j drawn from fold_in(pool_key, j), is
       generated chunk by chunk and searched exactly (fsgen.neighbours.nearest_chunked; the pool is
       never stored); for i in to_update: z_i <- z_pool[nn(i)] + perturb * N(0, I), s_i <- s_pool[nn(i)],
       always accepted; last_i <- 0;
       tau_i <- (1 - change_coef) * d_i (the OLD latent's distance; for an example matched for the first
       time, the new match's: the official code reads garbage latents at epoch 0).
    4. A new permutation of the n examples for the epoch.
  "G": one AdamW step on mean_i L(G(z_i, s_i), x_i) over the epoch's next batch (+ EMA of G).
Every set is handled with [n] masks, so nothing retraces. IMLE: step 2 without its adaptive term.
The distance's frozen LPIPS weights (fsgen.losses.imle) live in state["frozen"]["distance"].

Config: config.model.G.{blocks, width, map_layers, z_dim, gelu_approximate}, config.optim.G (AdamW),
config.imle.{adaptive, change_coef, staleness, force_resample, pool_factor, chunk, perturb, features,
lpips_coef, l2_coef, proj_dim, warmup_steps, ema_decay, sample_from, eval_batch, init_threshold},
config.batch_size, config.data.{resolution, channels}; config.init_from warm-starts G.
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
from fsgen.neighbours import nearest_chunked
from fsgen.nets import imle_generator as ig
from fsgen.parallel import shard_batch
from fsgen.update import gradient_step


def default_config() -> ml_collections.ConfigDict:
  """The official `--hps fewshot` settings (256 px, 100-shot Panda row of the reproduce scripts)."""
  c = configs.loop_defaults()
  c.method = "adaptive_imle"
  c.data = configs.data_defaults(resolution=256, channels=3)
  c.batch_size = 4
  c.model = dict(G=dict(blocks=ig.OFFICIAL_BLOCKS_256, width=384, map_layers=8, z_dim=1024, gelu_approximate=False))
  c.optim = dict(G=dict(name="adamw", learning_rate=1e-4, b1=0.9, b2=0.9, weight_decay=0.01))
  c.imle = dict(
    adaptive=True,  # False: plain IMLE (re-match every force_resample epochs only)
    change_coef=0.01,  # gamma: tau <- (1 - gamma) d at a re-match
    staleness=5,  # epochs before an example may be re-matched by the adaptive test
    force_resample=30,  # epochs after which an example is always re-matched
    pool_factor=200,  # pool size M = pool_factor * n (official: 100-200, "around 10k")
    chunk=64,  # pool samples generated and searched per scan step
    perturb=1e-3,  # jitter added to a matched z (imle_perturb_coef)
    features="lpips_vgg",
    lpips_coef=1.0,
    l2_coef=0.1,
    proj_dim=0,  # > 0: search in a random projection (loss stays exact)
    warmup_steps=100,  # linear LR warm-up from 0, then constant
    ema_decay=0.9999,
    sample_from="ema",  # "ema" or "raw": which generator `sample`/exports use
    eval_batch=16,  # batch of the per-epoch distance pass
    init_threshold=1.0,  # official change_threshold (overwritten at the first match)
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


class Method(BaseMethod):
  def __init__(self, config, info):
    super().__init__(config, info)
    g = config.model.G
    self.hp = config.imle
    if self.hp.sample_from not in ("ema", "raw"):
      raise ValueError(f"config.imle.sample_from must be 'ema' or 'raw', got {self.hp.sample_from!r}")
    self.blocks, self.z_dim = g.blocks, g.z_dim
    out_res = ig.parse_blocks(g.blocks)[-1][0]
    if out_res != config.data.resolution:
      raise ValueError(
        f"config.model.G.blocks ends at {out_res} px but config.data.resolution is {config.data.resolution}"
      )
    self.G = ig.Generator(
      blocks=g.blocks,
      width=g.width,
      map_layers=g.map_layers,
      channels=config.data.channels,
      gelu_approximate=g.gelu_approximate,
    )
    self.dist = imle_loss.build(
      self.hp.features,
      resolution=config.data.resolution,
      channels=config.data.channels,
      l2_coef=self.hp.l2_coef,
      lpips_coef=self.hp.lpips_coef,
    )
    lr = optax.warmup_constant_schedule(0.0, config.optim.G.learning_rate, max(1, self.hp.warmup_steps))
    self.tx = {"G": optim.build({**dict(config.optim.G), "learning_rate": lr})}
    self.batch_size = config.batch_size
    self.proj_key = jax.random.key(config.seed + 7919)  # fixed projection for the whole run
    if info.full_batches < 1:
      raise ValueError(f"config.batch_size={self.batch_size} exceeds the {info.num_images} training images")
    self.steps_per_epoch = info.full_batches  # official epoch: one shuffled pass in whole batches
    # Frozen distance weights (host numpy, fetched into the asset cache when missing); state["frozen"].
    self._weights = assets.load(self.dist.asset) if self.dist.asset else None

  # ---- helpers ----------------------------------------------------------------------------------------

  def _generate(self, g_params, z, noise):
    return self.G.apply({"params": g_params}, z, noise)

  def _distances(self, weights, g_params, z, noise, images):
    """L(G(z_i, s_i), x_i) for all n examples, in batches of eval_batch -> [n] (no gradient)."""
    n = images.shape[0]
    bs = min(self.hp.eval_batch, n)
    pad = -n % bs
    idx = jnp.concatenate([jnp.arange(n), jnp.zeros(pad, jnp.int32)]).reshape(-1, bs)

    def one(i):
      x = to_float(images[i])
      return self.dist.pairwise(weights, self._generate(g_params, z[i], [m[i] for m in noise]), x)

    return jax.lax.map(one, idx).reshape(-1)[:n]

  def _search(self, weights, g_params, pool_key, images):
    """Nearest pool sample of each training image: (ids [n], squared distance [n]) over M samples."""
    n = images.shape[0]
    num = int(self.hp.pool_factor * n)
    chunk = min(self.hp.chunk, num)
    proj = None
    if self.hp.proj_dim:
      proj = imle_loss.projection(self.proj_key, self.dist.dim, self.hp.proj_dim)
    project = (lambda f: f) if proj is None else (lambda f: f @ proj)
    bs = min(self.hp.eval_batch, n)
    pad = -n % bs
    xs = jnp.concatenate([images, images[:pad]]).reshape(-1, bs, *images.shape[1:])
    queries = jax.lax.map(lambda x: project(self.dist.features(weights, to_float(x))), xs)
    queries = queries.reshape(-1, queries.shape[-1])[:n]

    def make_keys(start):
      z, noise = ig.latents_from_ids(pool_key, start + jnp.arange(chunk), self.z_dim, self.blocks)
      z, noise = shard_batch(z), [shard_batch(m) for m in noise]
      return project(self.dist.features(weights, self._generate(g_params, z, noise)))

    return nearest_chunked(queries, make_keys, num, chunk)

  # ---- interface --------------------------------------------------------------------------------------

  def init(self, key, data, prior=None):
    n = data["images"].shape[0]
    kg, kl = jax.random.split(key)
    z, noise = ig.draw_latents(kl, n, self.z_dim, self.blocks)
    params = warm_start({"G": self.G.init(kg, z[:1], [m[:1] for m in noise])["params"]}, prior)
    extra = {
      "z": z,
      "noise": noise,
      "dist": jnp.zeros((n,), jnp.float32),
      "tau": jnp.full((n,), self.hp.init_threshold, jnp.float32),
      # Starts at force_resample - 1, so epoch 0 (after its += 1) re-matches every example.
      "last": jnp.full((n,), self.hp.force_resample - 1, jnp.int32),
      "matched": jnp.zeros((n,), bool),
      "perm": jnp.arange(n, dtype=jnp.int32),
      "rounds": jnp.zeros((), jnp.int32),  # re-match rounds so far (pools generated)
      "rematched": jnp.zeros((), jnp.int32),  # examples re-matched in the last round
      "rematched_total": jnp.zeros((), jnp.int32),
    }
    state = {"params": params, "opt": {"G": self.tx["G"].init(params["G"])}, "ema": {"G": params["G"]}, "extra": extra}
    if self._weights is not None:  # a frozen network: in the state, never differentiated
      state["frozen"] = {"distance": jax.tree.map(jnp.asarray, self._weights)}
    return state

  @staticmethod
  def _frozen(state):
    return state.get("frozen", {}).get("distance")

  def rematch_step(self, state, data, key):
    """The "rematch" phase, at the first step of each epoch (see the module docstring)."""
    images = data["images"]
    n = images.shape[0]
    hp, weights = self.hp, self._frozen(state)

    def epoch_start(ex):
      g = state["params"]["G"]
      kpool, kjit, kperm = jax.random.split(key, 3)
      last = ex["last"] + 1
      d_old = self._distances(weights, g, ex["z"], ex["noise"], images)
      mask = rematch_mask(
        d_old, ex["tau"], last, adaptive=hp.adaptive, staleness=hp.staleness, force_resample=hp.force_resample
      )

      def rematch(ex):
        ids, d_search = self._search(weights, g, kpool, images)
        z_new, noise_new = ig.latents_from_ids(kpool, ids, self.z_dim, self.blocks)
        z_new = z_new + hp.perturb * jax.random.normal(kjit, z_new.shape)
        sel = lambda new, old: jnp.where(mask.reshape((-1,) + (1,) * (old.ndim - 1)), new, old)
        z, noise = sel(z_new, ex["z"]), [sel(a, b) for a, b in zip(noise_new, ex["noise"])]
        if hp.proj_dim:  # the projected search distance is not L: measure the latents now held
          d_new = self._distances(weights, g, z, noise, images)
        else:  # the search distance is L itself (up to the 1e-3 jitter): no second generator pass
          d_new = jnp.where(mask, d_search, d_old)
        tau = update_thresholds(mask, ex["tau"], d_old, d_new, ex["matched"], hp.change_coef)
        return {
          **ex,
          "z": z,
          "noise": noise,
          "dist": d_new,
          "tau": tau,
          "rounds": ex["rounds"] + 1,
          "last": jnp.where(mask, 0, last),
          "matched": ex["matched"] | mask,
        }

      ex = jax.lax.cond(jnp.any(mask), rematch, lambda ex: {**ex, "dist": d_old, "last": last}, ex)
      count = jnp.sum(mask, dtype=jnp.int32)
      return {
        **ex,
        "perm": jax.random.permutation(kperm, n).astype(jnp.int32),
        "rematched": count,
        "rematched_total": ex["rematched_total"] + count,
      }

    ex = epoch_start(state["extra"])
    metrics = {
      "imle/d_mean": ex["dist"].mean(),
      "imle/d_max": ex["dist"].max(),
      "imle/tau_mean": ex["tau"].mean(),
      "imle/rematched": ex["rematched"].astype(jnp.float32),
      "imle/rounds": ex["rounds"].astype(jnp.float32),
    }
    return {**state, "extra": ex}, metrics

  def g_step(self, state, data, key):
    images, ex, weights = data["images"], state["extra"], self._frozen(state)
    start = (state["step"] % self.steps_per_epoch) * self.batch_size
    idx = jax.lax.dynamic_slice(ex["perm"], (start,), (self.batch_size,))
    x = shard_batch(to_float(images[idx]))
    z, noise = shard_batch(ex["z"][idx]), [shard_batch(m[idx]) for m in ex["noise"]]
    target = jax.lax.stop_gradient(self.dist.features(weights, x))

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
    z, noise = ig.draw_latents(key, n, self.z_dim, self.blocks)
    return self._generate(params["G"], z, noise)
