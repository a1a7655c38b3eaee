"""`scola`: supervised COLA. Step I is replaced by one-hot labels, t_i = e_{y_i}; Steps II and III are
those of `cola` (per-class Gaussians; `sample_cluster(params, key, n, c)` draws images of class c).

Needs a labelled source (config.data.labels / an idx or tfds source with labels) and
config.cola.clusters = the number of classes (static shapes under jit).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from fsgen.methods import cola


def default_config():
  """sCOLA in the small-sample setting (InfoGAN generator, d = 64, Laplacian loss)."""
  c = cola.default_config()
  c.method = "scola"
  c.cola.clusters = 10
  return c


class Method(cola.Method):
  def class_parts(self, data, prior):
    del prior
    if "labels" not in data:
      raise ValueError("scola needs labelled data (config.data.labels=True or a labelled source)")
    if self.hp.clusters <= 0:
      raise ValueError("scola needs config.cola.clusters = the number of classes")
    labels = data["labels"].astype(jnp.int32)
    return jax.nn.one_hot(labels, self.hp.clusters), labels, jnp.eye(self.hp.clusters)

  def sample_labelled(self, params, key, n):
    """(images [n, H, W, C] in [-1, 1], labels int [n]): classes drawn uniformly, each image from its
    class Gaussian; the labelled sampler of the `cas` evaluator."""
    self._ensure_built(params)
    kc, kz = jax.random.split(key)
    labels = jax.random.randint(kc, (n,), 0, self.num_clusters)
    z = cola.sample_codes(
      params["mixture"],
      kz,
      n,
      labels,
      scale=self.hp.sample_scale,
      k=self.num_clusters,
      renormalise_blocks=self.hp.renormalise_samples,
    )
    return self.decode(params, z), labels
