"""Applying a network that carries mutable statistics (batch norm's running averages) as one function.

`apply_net(module, params, stats, *args, train=...)` returns (output, new statistics): in training mode
the batch statistics are used and the running averages updated; in inference mode (or for a network
without statistics, stats = {}) the statistics come back unchanged. Phases pass the new statistics
through `gradient_step(..., has_aux=True)` and write them to state["batch_stats"][net] themselves.
"""

from __future__ import annotations


def apply_net(module, params, stats, *args, train: bool, collection: str = "batch_stats", **kwargs):
  """(module output, new `collection` tree) of `module.apply` with {"params", collection: stats}.

  Args:
    module: a flax.linen Module whose __call__ takes `train` (as fsgen's batch-normed nets do).
    params: its parameters; stats: its `collection` tree ({} if it has none).
    *args, **kwargs: the call's inputs.
    train: batch statistics and updated running averages (True) or running averages (False).
  """
  variables = {"params": params, collection: stats} if stats else {"params": params}
  if train and stats:
    out, updated = module.apply(variables, *args, train=True, mutable=[collection], **kwargs)
    return out, updated[collection]
  return module.apply(variables, *args, train=train, **kwargs), stats
