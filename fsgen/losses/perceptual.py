"""Perceptual losses on frozen ImageNet/LPIPS networks; the weights are arguments, held by callers in
state["frozen"] (never differentiated) and loaded once from fsgen.assets.

  perceptual_loss   COLA Eq. 4: L1 in pixels + L1 between ImageNet-VGG16 taps.
  reconstruction_loss  FastGAN Eq. 2: the discriminator's self-supervised reconstructions, LPIPS-VGG or L1.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from fsgen.nets import lpips as lpips_net
from fsgen.nets.fastgan import crop_quadrant


def vgg_params():
  """ImageNet VGG16 backbone params (the LPIPS-VGG asset of fsgen.assets), for the Eq. 4 loss."""
  from fsgen import assets  # pylint: disable=import-outside-toplevel

  return assets.load("lpips_vgg")["VGG16_0"]


def perceptual_loss(vgg, x, y):
  """COLA Eq. 4: |x - x'| + sum_l |l_l(x) - l_l(x')| (means) over the ImageNet-VGG16 taps relu1_2,
  relu2_2, relu3_3, relu4_3 and relu5_3 (the paper does not list its layers; these are LPIPS's).

  x, y [B, H, W, C] in [-1, 1]; gray images are repeated to RGB; vgg: params of fsgen.nets.lpips.VGG16.
  """
  taps = lambda v: lpips_net.VGG16().apply({"params": vgg}, lpips_net.vgg_input(v))
  return jnp.mean(jnp.abs(x - y)) + sum(jnp.mean(jnp.abs(a - b)) for a, b in zip(taps(x), taps(y)))


def reconstruction_loss(recon, real, part, lpips_params=None):
  """FastGAN's self-supervised reconstruction term on reals [B, R, R, C] (FastGAN Eq. 2): scalar.

    Each of the three decoder outputs [B, r, r, C] (whole image from the 8x8 map, whole image from the small
    path, quadrant `part` from the 16x16 map) is compared with the real image (or its quadrant) resized to r.
    With lpips_params (the lpips_vgg asset): LPIPS-VGG summed over the batch, as the official trainer
    (`percept(rec, F.interpolate(real, r)).sum()`); without: the mean L1 error (a cheap option for CPU runs:
  the light 64 px MixDL/FastGAN step took 3.1 s with LPIPS and 0.33 s with L1 on the 2-core CPU).
  """
  size = recon[0].shape[1]
  resize = lambda x: jax.image.resize(x, (x.shape[0], size, size, x.shape[3]), "bilinear", antialias=True)
  targets = (resize(real), resize(real), resize(crop_quadrant(real, part)))
  if lpips_params is not None:
    return sum(jnp.sum(lpips_net.lpips(lpips_params, r, t)) for r, t in zip(recon, targets))
  return sum(jnp.mean(jnp.abs(r - t)) for r, t in zip(recon, targets))
