"""The two MixDL backbones behind one small interface: init, codes, mixed_codes, generate, discriminate,
d_adv (the backbone's own D loss).

Images are [B, R, R, C] arrays in [-1, 1]; codes are [B, num_ws, W] (StyleGAN2, W space) or [B, Z] (FastGAN,
z space). `generate(..., feats=True)` also returns the generator feature maps MixDL's distance compares;
`discriminate` returns (logits, spectral state) and, with `part`, FastGAN's reconstruction crops.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from fsgen.losses.gan import d_loss
from fsgen.nets import fastgan, precision, stylegan2
from fsgen.parallel import shard_batch


def concat_images(*images):
  """Concatenates image batches along the batch axis (arrays, or FastGAN's (big, small) pairs)."""
  return jax.tree.map(lambda *xs: jnp.concatenate(xs, axis=0), *images)


def slice_images(images, start: int, stop: int):
  """images[start:stop] along the batch axis (arrays, or FastGAN's (big, small) pairs)."""
  return jax.tree.map(lambda x: x[start:stop], images)


class StyleGAN2Backbone:
  """StyleGAN2 nets behind the interface the method uses (images are [B, R, R, C] arrays)."""

  gan_loss = "nonsaturating"

  def __init__(self, config):
    res, ch = config.data.resolution, config.data.channels
    mixed = functools.partial(precision.with_dtype, dtype=config.get("dtype", "float32"))  # config.dtype
    self.G = mixed(stylegan2.Generator(resolution=res, channels=ch, **config.model.G))
    self.D = mixed(stylegan2.Discriminator(resolution=res, **config.model.D))
    self.z_dim, self.shape = config.model.G.z_dim, (res, res, ch)
    self.num_feats, self.num_ws = self.G.num_feats, self.G.num_ws

  def init(self, key):
    kg, kd, kn = jax.random.split(key, 3)
    g = self.G.init({"params": kg, "noise": kn}, jnp.zeros((1, self.z_dim)))["params"]
    d = self.D.init(kd, jnp.zeros((1,) + self.shape))["params"]
    return {"G": g, "D": d}, {"G": {}, "D": {}}

  def codes(self, g, z):
    return self.G.apply({"params": g}, z, method="map")

  def mixed_codes(self, g, key, n, prob):
    """Per-layer codes [n, L, W] with style mixing (one crossover point per batch, probability prob)."""
    k1, k2, k3, k4 = jax.random.split(key, 4)
    w1 = self.codes(g, shard_batch(jax.random.normal(k1, (n, self.z_dim))))
    if prob <= 0:
      return w1
    w2 = self.codes(g, shard_batch(jax.random.normal(k2, (n, self.z_dim))))
    cut = jnp.where(jax.random.uniform(k3) < prob, jax.random.randint(k4, (), 1, self.num_ws), self.num_ws)
    return jnp.where(jnp.arange(self.num_ws)[None, :, None] < cut, w1[:, None], w2[:, None])

  def generate(self, g, spec, codes, key, *, train, feats=False):
    """codes [B, W] or [B, L, W] -> (images, features or None, new spectral stats)."""
    out = self.G.apply({"params": g}, codes, feats, method="synthesize", rngs={"noise": key})
    return (out[0], out[1], spec) if feats else (out, None, spec)

  def discriminate(self, d, spec, images, *, train, part=None):
    del train, part
    return self.D.apply({"params": d}, images), spec

  def real_views(self, x):
    return x

  def image(self, images):
    return images

  def d_adv(self, key, real_logits, fake_logits):
    """StyleGAN2's logistic D loss: E softplus(-D(x)) + E softplus(D(G(z)))."""
    del key
    return d_loss(self.gan_loss, real_logits=real_logits, fake_logits=fake_logits)


class FastGANBackbone:
  """FastGAN nets behind the same interface (images are (big, small) pairs; spectral-norm stats)."""

  gan_loss = "hinge"

  def __init__(self, config):
    res, ch = config.data.resolution, config.data.channels
    mixed = functools.partial(precision.with_dtype, dtype=config.get("dtype", "float32"))  # config.dtype
    self.G = mixed(fastgan.Generator(resolution=res, channels=ch, **config.model.G))
    self.D = mixed(fastgan.Discriminator(resolution=res, channels=ch, **config.model.D))
    self.z_dim, self.res, self.ch = config.model.G.z_dim, res, ch
    self.small = fastgan.small_resolution(res)
    self.num_feats, self.num_ws = self.G.num_feats, 1

  def init(self, key):
    kg, kd, kn = jax.random.split(key, 3)
    vg = self.G.init({"params": kg, "noise": kn}, jnp.zeros((2, self.z_dim)))
    images = (jnp.zeros((2, self.res, self.res, self.ch)), jnp.zeros((2, self.small, self.small, self.ch)))
    vd = self.D.init(kd, images, False, 0)
    return ({"G": vg["params"], "D": vd["params"]}, {"G": vg[fastgan.SPECTRAL], "D": vd[fastgan.SPECTRAL]})

  def codes(self, g, z):
    del g
    return z

  def mixed_codes(self, g, key, n, prob):
    del prob
    return shard_batch(jax.random.normal(key, (n, self.z_dim)))

  def generate(self, g, spec, codes, key, *, train, feats=False):
    variables = {"params": g, fastgan.SPECTRAL: spec}
    out = self.G.apply(
      variables, codes, train, feats, rngs={"noise": key}, mutable=[fastgan.SPECTRAL] if train else False
    )
    if train:
      out, new = out
      spec = new[fastgan.SPECTRAL]
    return (out[0], out[1], spec) if feats else (out, None, spec)

  def discriminate(self, d, spec, images, *, train, part=None):
    out = self.D.apply(
      {"params": d, fastgan.SPECTRAL: spec}, images, train, part, mutable=[fastgan.SPECTRAL] if train else False
    )
    return (out[0], out[1][fastgan.SPECTRAL]) if train else (out, spec)

  def real_views(self, x):
    b, _, _, c = x.shape
    return x, jax.image.resize(x, (b, self.small, self.small, c), "bilinear", antialias=True)

  def image(self, images):
    return images[0]

  def d_adv(self, key, real_logits, fake_logits):
    """FastGAN's hinge with random margins u ~ U[0.8, 1]: E relu(u - D(x)) + E relu(u + D(G(z)))."""
    kr, kf = jax.random.split(key)
    real_logits = real_logits + 1.0 - jax.random.uniform(kr, real_logits.shape, minval=0.8, maxval=1.0)
    fake_logits = fake_logits - 1.0 + jax.random.uniform(kf, fake_logits.shape, minval=0.8, maxval=1.0)
    return d_loss(self.gan_loss, real_logits=real_logits, fake_logits=fake_logits)


BACKBONES = {"stylegan2": StyleGAN2Backbone, "fastgan": FastGANBackbone}
