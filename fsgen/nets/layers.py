"""Small building blocks shared by several networks."""

from __future__ import annotations

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp


def depth_to_space(x: jax.Array, block: int = 2) -> jax.Array:
  """[B, H, W, C * block^2] -> [B, H * block, W * block, C] (the pixel-shuffle of sub-pixel convolution)."""
  b, h, w, c = x.shape
  oc = c // (block * block)
  x = x.reshape(b, h, w, block, block, oc)
  return x.transpose(0, 1, 3, 2, 4, 5).reshape(b, h * block, w * block, oc)


class SubPixelUp(nn.Module):
  """2x upsampling: 3x3 conv to 4 * features, then depth-to-space.

  Same output shape as a stride-2 transposed convolution, but its weight gradient is an ordinary conv,
  which is about 15x faster on XLA:CPU (see DESIGN.md and bench/step_speed.py). `weight_grad`: "conv"
  (XLA's weight-gradient convolution) or "matmul" (one GEMM over im2col patches, `conv_matmul_wgrad`):
  the same function and input gradient, the weight gradient equal up to float summation order.
  """

  features: int
  weight_grad: str = "conv"

  @nn.compact
  def __call__(self, x):
    if self.weight_grad not in ("conv", "matmul"):
      raise ValueError(f"SubPixelUp.weight_grad must be 'conv' or 'matmul', got {self.weight_grad!r}")
    conv_fn = conv_matmul_wgrad if self.weight_grad == "matmul" else None
    return depth_to_space(nn.Conv(4 * self.features, (3, 3), padding="SAME", conv_general_dilated=conv_fn)(x), 2)


def pixel_norm(x: jax.Array, eps: float = 1e-8) -> jax.Array:
  """Per-pixel feature normalisation of ProGAN: x / sqrt(mean_c x^2 + eps). Stateless, per example."""
  return x * jax.lax.rsqrt(jnp.mean(jnp.square(x), axis=-1, keepdims=True) + eps)


def _explicit_padding(x_shape, w_shape, strides, padding) -> tuple[tuple[int, int], ...]:
  if isinstance(padding, str):
    return tuple(jax.lax.padtype_to_pads(x_shape[1:3], w_shape[:2], strides, padding))
  return tuple((int(lo), int(hi)) for lo, hi in padding)


def conv_patches(x: jax.Array, kernel_hw: tuple[int, int], strides, pads) -> jax.Array:
  """im2col: x [B, H, W, C] -> [B, Ho, Wo, kh * kw * C], patch entries ordered (kh, kw, C) like HWIO."""
  (kh, kw), (sh, sw) = kernel_hw, strides
  x = jnp.pad(x, ((0, 0), *pads, (0, 0)))
  ho, wo = (x.shape[1] - kh) // sh + 1, (x.shape[2] - kw) // sw + 1
  cols = [x[:, i : i + sh * (ho - 1) + 1 : sh, j : j + sw * (wo - 1) + 1 : sw, :] for i in range(kh) for j in range(kw)]
  return jnp.concatenate(cols, axis=-1)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def _conv_matmul_wgrad(x, w, strides, pads):
  return jax.lax.conv_general_dilated(x, w, strides, pads, dimension_numbers=("NHWC", "HWIO", "NHWC"))


def _conv_matmul_wgrad_fwd(x, w, strides, pads):
  return _conv_matmul_wgrad(x, w, strides, pads), (x, w)


def _conv_matmul_wgrad_bwd(strides, pads, res, g):
  x, w = res
  conv = lambda x_: jax.lax.conv_general_dilated(x_, w, strides, pads, dimension_numbers=("NHWC", "HWIO", "NHWC"))
  (dx,) = jax.vjp(conv, x)[1](g)
  cols = conv_patches(x, w.shape[:2], strides, pads)
  dw = jnp.einsum("bhwk,bhwo->ko", cols, g).reshape(w.shape)
  return dx, dw


_conv_matmul_wgrad.defvjp(_conv_matmul_wgrad_fwd, _conv_matmul_wgrad_bwd)


def conv_matmul_wgrad(
  lhs,
  rhs,
  window_strides,
  padding,
  *,
  lhs_dilation=None,
  rhs_dilation=None,
  dimension_numbers=None,
  feature_group_count=1,
  precision=None,
):
  """`lax.conv_general_dilated` (2-D, NHWC x HWIO) whose weight gradient is one matmul over im2col patches.

  The same forward values and input gradient as the plain convolution (they are computed by it); only the
  weight gradient dW = im2col(x)^T dy [kh*kw*C, O] is a single GEMM, which XLA:CPU runs several times
  faster than its own weight-gradient convolution for the generator's large-spatial layers (measured in
  bench/profile_step.py; e.g. 3x3, 64 -> 256 channels at 16x16, batch 64). Reverse mode only (custom VJP),
  so not for nets that need forward-mode derivatives. Pass as `nn.Conv(..., conv_general_dilated=...)`:
  parameters and their names stay those of nn.Conv.
  """
  del dimension_numbers, precision  # flax passes NHWC / HWIO numbers for 4-D inputs; fp32 throughout
  if any(d != 1 for d in (lhs_dilation or (1, 1))) or any(d != 1 for d in (rhs_dilation or (1, 1))):
    raise ValueError("conv_matmul_wgrad supports no dilation")
  if feature_group_count != 1 or lhs.ndim != 4:
    raise ValueError("conv_matmul_wgrad supports 2-D convolutions without feature groups")
  strides = tuple(int(s) for s in window_strides)
  return _conv_matmul_wgrad(lhs, rhs, strides, _explicit_padding(lhs.shape, rhs.shape, strides, padding))


def minibatch_stddev(x, group: int = 4):
  """Appends one channel: the std over groups of samples, averaged (rosinality grouping: sample j is in
  subgroup j mod (B / G)). x [B, H, W, C] -> [B, H, W, C + 1]."""
  b, h, w, _ = x.shape
  g = min(group, b)
  if b % g:
    g = 1
  y = x.reshape(g, b // g, h, w, -1)
  s = jnp.sqrt(jnp.var(y, axis=0) + 1e-8).mean(axis=(1, 2, 3))  # [B / G]
  s = jnp.tile(s, g)  # sample j -> s[j mod (B / G)]
  return jnp.concatenate([x, jnp.broadcast_to(s[:, None, None, None], (b, h, w, 1))], axis=-1)
