"""A transposed convolution computed in sub-pixel form: the same function and parameters as
flax.linen.ConvTranspose(features, (k, k), strides=(s, s), padding="SAME"), faster on XLA:CPU.

A stride-s transposed convolution gives each of the s x s output phases (a, b) (output pixel (s m + a,
s n + b)) its own small ordinary convolution of the input around (m, n). So it equals ONE ordinary
convolution of the input to s * s * C_out channels, with the k x k kernel's taps scattered into a
window covering every phase's input offsets, followed by depth-to-space (ESPCN's pixel shuffle). The
scatter table is derived once per (k, s) by probing lax.conv_transpose with one-tap kernels on a
delta input, so it follows lax's "SAME" alignment exactly; the parameters stay the [k, k, C_in, C_out]
kernel and the bias of nn.ConvTranspose (a checkpoint of either form loads into the other).

Why: XLA:CPU lowers a transposed convolution to a convolution of the zero-dilated input (s^2 times more
multiply-adds, most of them by inserted zeros) and its weight gradient is slow; the sub-pixel form does
no work on inserted zeros, and its weight gradient runs as one GEMM (fsgen.nets.layers.conv_matmul_wgrad).
Measured for LASIUM's Omniglot GAN by bench/meta_speed.py --rows gan; equality tested in
tests/test_lasium_transposed_conv.py.
"""

from __future__ import annotations

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from fsgen.nets.layers import conv_matmul_wgrad, depth_to_space


@functools.cache
def phase_taps(k: int, s: int) -> tuple[np.ndarray, int]:
  """(taps int [s, L]: the kernel tap of output phase a at window position i, -1 where none; dmin: the input
  offset of window position 0). Output (s m + a) of the 1-D 'SAME' transposed convolution is
  sum_i x[m + dmin + i] * w[taps[a, i]]."""
  n, p = 4 * k + 4, 2 * k + 2  # a delta well inside a long signal: no boundary effects
  x = np.zeros((1, n, 1), np.float32)
  x[0, p, 0] = 1.0
  found: dict[tuple[int, int], int] = {}
  for t in range(k):
    w = np.zeros((k, 1, 1), np.float32)
    w[t] = 1.0
    with jax.ensure_compile_time_eval():  # concrete even when first called inside a jit trace
      y = jax.lax.conv_transpose(x, w, (s,), "SAME", dimension_numbers=("NWC", "WIO", "NWC"))
    y = np.asarray(y)[0, :, 0]
    for o in np.flatnonzero(np.abs(y) > 0.5):
      found[(int(o) % s, p - int(o) // s)] = t  # phase, input offset d: out[s m + a] uses x[m + d]
  offsets = [d for _, d in found]
  dmin, dmax = min(offsets), max(offsets)
  taps = -np.ones((s, dmax - dmin + 1), np.int32)
  for (a, d), t in found.items():
    taps[a, d - dmin] = t
  return taps, dmin


class SubPixelConvTranspose(nn.Module):
  """nn.ConvTranspose(features, (k, k), strides=(s, s), padding="SAME") in sub-pixel form: [B, H, W, C]
  -> [B, s H, s W, features]. Same parameters ("kernel" [k, k, C, features], "bias") and initialisers."""

  features: int
  kernel_size: int
  strides: int = 1
  use_bias: bool = True

  @nn.compact
  def __call__(self, x):
    k, s, cin = self.kernel_size, self.strides, x.shape[-1]
    kernel = self.param("kernel", nn.initializers.lecun_normal(), (k, k, cin, self.features))
    taps, dmin = phase_taps(k, s)
    window = taps.shape[1]
    valid = jnp.asarray(taps >= 0, x.dtype)
    idx = jnp.asarray(np.maximum(taps, 0))
    # sub[iy, ix, c, a, b, f] = kernel[taps[a, iy], taps[b, ix], c, f] (0 where a phase has no tap there)
    sub = kernel[idx[:, :, None, None], idx[None, None, :, :]]  # [s, Ly, s, Lx, C, F] over (a, iy, b, ix)
    sub = sub * (valid[:, :, None, None] * valid[None, None, :, :])[..., None, None]
    sub = sub.transpose(1, 3, 4, 0, 2, 5).reshape(window, window, cin, s * s * self.features)
    pads = ((-dmin, window - 1 + dmin),) * 2
    y = conv_matmul_wgrad(x, sub, (1, 1), pads)
    if self.use_bias:
      bias = self.param("bias", nn.initializers.zeros, (self.features,))
      y = y + jnp.tile(bias, s * s)
    return depth_to_space(y, s) if s > 1 else y
