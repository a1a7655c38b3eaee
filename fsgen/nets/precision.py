"""Mixed precision for any Flax network: float32 parameters and optimizer state, compute in `dtype`.

`with_dtype(module, dtype)` returns the module itself for float32, else a thin wrapper whose `apply`
casts the floating leaves of the `params` collection and of the inputs to `dtype` (bfloat16 or float16),
runs the network, and casts its floating outputs back to float32; `init` is unchanged, so parameters are
created and stored in float32. The casts are differentiable: gradients reach the float32 parameters in
float32 (the transpose of a cast is a cast back), which is the usual "f32 master weights, bf16 compute"
policy. Mutable collections (batch statistics) stay float32. Every method wraps its networks with
`config.dtype` (default "float32") through `fsgen.methods.base.Method.mixed`, so the policy is one switch
for the whole library. The frozen feature networks of losses and metrics (LPIPS, VGG, Inception) are not
wrapped: they define distances (IMLE's nearest neighbours, FID), which bf16 rounding would move.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16, "float16": jnp.float16}


def resolve(name: str):
  """The jnp dtype of config.dtype; a one-line error naming the value otherwise."""
  if name not in DTYPES:
    raise ValueError(f"config.dtype must be one of {', '.join(DTYPES)}, got {name!r}")
  return DTYPES[name]


def _cast(tree, dtype):
  def leaf(x):
    if isinstance(x, jax.Array | float) and jnp.issubdtype(jnp.result_type(x), jnp.floating):
      return jnp.asarray(x).astype(dtype)
    return x

  return jax.tree.map(leaf, tree)


class Mixed:
  """A Flax module whose apply computes in `dtype` (see the module docstring); anything else passes through."""

  def __init__(self, module, dtype):
    self.module = module
    self.dtype = dtype

  def init(self, *args, **kwargs):
    return self.module.init(*args, **kwargs)

  def apply(self, variables, *args, **kwargs):
    variables = dict(variables)
    variables["params"] = _cast(variables["params"], self.dtype)
    out = self.module.apply(variables, *_cast(args, self.dtype), **kwargs)
    return _cast(out, jnp.float32)

  def __getattr__(self, name):
    return getattr(self.module, name)


def with_dtype(module, dtype: str = "float32"):
  """`module` unchanged for float32, else wrapped to compute in `dtype` with float32 parameters."""
  dt = resolve(dtype)
  return module if dt == jnp.float32 else Mixed(module, dt)
