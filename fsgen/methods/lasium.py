"""`lasium`: unsupervised meta-learning on tasks sampled in a generator's latent space (Khodadadeh et al.,
ICLR 2021, "Unsupervised Meta-Learning through Latent-Space Interpolation in Generative Models").

Stage 2 of LASIUM. Stage 1 trains a generator on the unlabelled images (`lasium_gan`: the paper's
Omniglot GAN with the MSGAN term; `lasium_vae`: its VAE); this method loads it from the stage-1 workdir
given in `config.init_from` into state["frozen"] (never trained here) and meta-trains a MAML or ProtoNets
learner (fsgen.methods.lasium_learning) on tasks from fsgen.methods.lasium_tasks: each meta-iteration
samples config.batch_size tasks of N-way K-shot support and Q queries per class from the generator.
The method's data is the unlabelled training set (labels are never read; the VAE draws its anchor
images from it). Evaluation is on real labelled episodes of held-out classes: the `episodes` evaluator.

Config (besides the learner's sections):
  config.generator = {kind: "gan" | "vae", width, latent}   the stage-1 architecture (must match it)
  config.lasium = {strategy: "n" | "ro" | "oc", sigma, alpha, oc_noise, epsilon, max_draws, query_shift,
                   untrained_generator}
Defaults: RO with alpha 0.2 (Table 1's headline LASIUM-RO-GAN-MAML; Table 7's best GAN-MAML RO setting,
which is also the code's RO constant), sigma 0.5 (Table 7's "sigma^2 = 0.5", which the code passes as a
standard deviation), OC noise std 1.0 (code), epsilon 0 (no rejection; the shipped Omniglot N-GAN-MAML
run uses 246.09375), no query shift (the MAML-GAN code has it commented out).
`untrained_generator = True` meta-trains on a randomly initialised generator (a control; no init_from).

Phase "meta" (every step): tasks -> MAML / ProtoNets meta-loss -> Adam step of the learner.
Sampling (grids, export): images of freshly sampled tasks, class-major (each class row: K support then Q
queries); for the VAE the preview's anchors come from the prior N(0, I), since sampling has no data.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import ml_collections

from fsgen import configs
from fsgen.meta.latent_tasks import STRATEGIES
from fsgen.methods import lasium_tasks
from fsgen.methods.base import Phase
from fsgen.methods.lasium_learning import LearnerMethod, learner_defaults


def default_config() -> ml_collections.ConfigDict:
  """A complete `lasium` config: RO-GAN-MAML on Omniglot 28x28 with the paper's Table 5 settings."""
  c = learner_defaults(configs.loop_defaults())
  c.method = "lasium"
  c.generator = dict(kind="gan", width=128, latent=128)
  c.lasium = dict(
    strategy="ro",
    sigma=0.5,
    alpha=0.2,
    oc_noise=1.0,
    epsilon=0.0,
    max_draws=1000,
    query_shift=0,
    untrained_generator=False,
  )
  return c


class Method(LearnerMethod):
  def __init__(self, config, info):
    super().__init__(config, info)
    self.hp = config.lasium
    if self.hp.strategy not in STRATEGIES:
      raise ValueError(f"config.lasium.strategy must be one of {', '.join(STRATEGIES)}, got {self.hp.strategy!r}")
    self.gen = lasium_tasks.build(config)
    if not config.get("init_from") and not self.hp.untrained_generator:
      raise ValueError(
        "lasium needs config.init_from = the generator's workdir (a lasium_gan or lasium_vae run), "
        "or config.lasium.untrained_generator=True for the untrained-generator control"
      )

  def init(self, key, data, prior=None):
    kl, kg = jax.random.split(key)
    state = self.learner_state(kl)
    frozen = self.gen.init_frozen(kg, None if self.hp.untrained_generator else prior, self.info.image_shape)
    return {**state, "frozen": frozen, "extra": {}}

  def tasks(self, state, data, key):
    m = self.meta
    return lasium_tasks.sample_tasks(
      self.gen,
      self.hp,
      state["frozen"],
      data,
      key,
      num_tasks=self.num_tasks,
      n_way=m.n_way,
      k_shot=m.k_shot,
      k_query=m.k_query,
    )

  def phases(self):
    return [Phase("meta", self.meta_step)]

  def sampling_params(self, state):
    return {"learner": state["params"]["learner"], **state["frozen"]}

  def sample(self, params, key, n):
    """n images of generated tasks [n, H, W, C], class-major (row: K support, then Q queries)."""
    m = self.meta
    per_task = m.n_way * (m.k_shot + m.k_query)
    support, query, _ = lasium_tasks.sample_tasks(
      lasium_tasks.PriorAnchors(self.gen),
      self.hp,
      params,
      {},
      key,
      num_tasks=math.ceil(n / per_task),
      n_way=m.n_way,
      k_shot=m.k_shot,
      k_query=m.k_query,
    )
    images = jnp.concatenate([support, query], axis=2)
    return images.reshape(-1, *images.shape[3:])[:n]
