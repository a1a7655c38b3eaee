"""What the LASIUM presets share: data, the episodes evaluators, the generator and meta-learner bodies.

Two settings:
  paper: full Omniglot, the official 1200 / 100 / 323 character split (seed 47) of all 1623 characters,
         from a folder holding images_background/ and images_evaluation/ (default data/omniglot; preset
         argument data=PATH), or TFDS (argument tfds: tfds:omniglot:train+test; the split is then seeded
         over TFDS's label order, not the official folder order). Meta-test: 1000 fixed tasks of the 323
         test characters.
  cpu:   ../shared/data/omniglot: generators (and supervised meta-learning) on images_background_small1
         (5 alphabets, 136 characters, 2,720 images; labels unused except by lasium_supervised);
         meta-test on the alphabets of images_background_small2 that small1 lacks: Japanese_(katakana),
         Sanskrit and Tagalog (106 characters, 2,120 images). small2's Greek and Latin are small1's own
         characters (same files), so they are excluded.
"""

from __future__ import annotations

from experiments.configs import reduced_schedule, shared_data
from fsgen import configs
from fsgen.data.class_split import DEFAULT_SEED, DEFAULT_SIZES

NOVEL_ALPHABETS = "Japanese_(katakana),Sanskrit,Tagalog"
PAPER_DATA = "data/omniglot"


def small1_data(**kw):
  """The CPU training set: images_background_small1 at 28x28x1 (labels as read; generators ignore them)."""
  return configs.data_defaults(
    source=f"omniglot:{shared_data('omniglot', 'images_background_small1.zip')}", resolution=28, channels=1, **kw
  )


def novel_reference() -> dict:
  """The CPU meta-test data: small2's alphabets that small1 does not contain."""
  return dict(
    source=f"omniglot:{shared_data('omniglot', 'images_background_small2.zip')}",
    alphabets=NOVEL_ALPHABETS,
    resolution=28,
    channels=1,
  )


def paper_data(part: str, data: str = "", tfds: bool = False, **kw):
  """Full Omniglot, the classes of `part` ("train", "val", "test") of the official seeded split."""
  source = "tfds:omniglot:train+test" if tfds else f"omniglot:{data or PAPER_DATA}"
  d = configs.data_defaults(source=source, resolution=28, channels=1, **kw)
  d.class_split, d.class_split_seed, d.class_split_sizes = part, DEFAULT_SEED, DEFAULT_SIZES
  return d


def paper_reference(data: str = "", tfds: bool = False) -> dict:
  return paper_data("test", data, tfds).to_dict()


def episodes_evals(reference: dict, *, every: int, n_tasks: int = 1000, shots=(1, 5)) -> dict:
  """config.evals: 5-way K-shot accuracy, K_val 15 queries, n_tasks fixed tasks (seed 42, the code's)."""
  return {
    f"{k}shot": dict(type="episodes", every=every, reference=reference, n_way=5, k_shot=k, k_query=15, n_tasks=n_tasks)
    for k in shots
  }


def test_evals() -> dict:
  """The reduced form's evaluator: 3 tasks of small2's novel alphabets."""
  return episodes_evals(novel_reference(), every=2, n_tasks=3, shots=(1,))


def reduce_learner(c, steps: int = 2):
  """A learner preset's :test form: width 8, 2 blocks, 1 inner step, 2 evaluation steps, 2 tasks, K_val 2."""
  c.learner.width, c.learner.blocks = 8, 2
  c.maml.inner_steps, c.maml.eval_steps = 1, 2
  c.batch_size = 2
  c.meta.k_query = 2
  c.data = small1_data()
  reduced_schedule(c, steps=steps, num_samples=8, evals=test_evals())
  return c


def learner_setting(c, learner: str, first_order: bool = False):
  """MAML (Table 5) or ProtoNets (Table 6) on the Omniglot learner."""
  if learner not in ("maml", "protonets"):
    raise ValueError(f"preset argument learner must be maml or protonets, got {learner!r}")
  c.learner.algorithm = learner
  c.maml.first_order = first_order
  return c


# In-class strategy constants per (generator, learner): sigma for N, alpha for RO and OC, the query shift.
# Paper Table 7 (Omniglot, 1000 iterations): the best value of each strategy in each column; where the
# official code's constant lies outside the paper's 0.2-0.5 range (GAN-MAML OC 0.6, GAN-ProtoNets RO 0.8)
# the paper's value is used. Query shift: the code shifts the queries of every learner except MAML-GAN.
STRATEGY = {
  ("gan", "maml"): dict(sigma=0.5, ro=0.2, oc=0.2, query_shift=0),
  ("gan", "protonets"): dict(sigma=0.5, ro=0.4, oc=0.4, query_shift=5),
  ("vae", "maml"): dict(sigma=0.5, ro=0.2, oc=0.2, query_shift=5),
  ("vae", "protonets"): dict(sigma=2.0, ro=0.4, oc=0.4, query_shift=5),
}
# The shipped Omniglot N-GAN-MAML run (omniglot_p1_0.5_epsilon_246.09375); squared distances in 128-d.
SHIPPED_EPSILON = 246.09375
LASIUM_ARGS = dict(
  test=False,
  strategy="ro",
  generator="gan",
  learner="maml",
  first_order=False,
  epsilon=-1.0,
  untrained=False,
  steps=0,
)


def lasium_setting(c, a, *, gan_width: int, vae_width: int, init_from: str):
  """config.generator / config.lasium / learner of a lasium preset from its arguments `a` (LASIUM_ARGS)."""
  if a.generator not in ("gan", "vae"):
    raise ValueError(f"preset argument generator must be gan or vae, got {a.generator!r}")
  if a.strategy not in ("n", "ro", "oc"):
    raise ValueError(f"preset argument strategy must be n, ro or oc, got {a.strategy!r}")
  learner_setting(c, a.learner, a.first_order)
  c.generator = (
    dict(kind="gan", width=gan_width, latent=128)
    if a.generator == "gan"
    else dict(kind="vae", width=vae_width, latent=20)
  )
  s = STRATEGY[(a.generator, a.learner)]
  c.lasium.strategy = a.strategy
  c.lasium.sigma, c.lasium.query_shift = s["sigma"], s["query_shift"]
  c.lasium.alpha = s[a.strategy] if a.strategy in ("ro", "oc") else s["ro"]
  default_eps = SHIPPED_EPSILON if (a.strategy, a.generator, a.learner) == ("n", "gan", "maml") else 0.0
  c.lasium.epsilon = default_eps if a.epsilon < 0 else a.epsilon
  c.lasium.untrained_generator = a.untrained
  c.init_from = "" if a.untrained else init_from
  return c
