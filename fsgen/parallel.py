"""Data parallelism with jit + NamedSharding: one mesh axis `data`, state replicated, batches sharded.

The trainer enters `jax.set_mesh(mesh)` around tracing and every call; inside a jitted phase,
`shard_batch` pins the leading axis of a freshly drawn batch to the `data` axis and XLA inserts the
gradient all-reduce. Outside a mesh (e.g. a notebook calling a phase directly) it is a no-op.

Multi-host (config.distributed=True): the mesh spans every process's devices; every process runs the same
jitted programs on its shard of each batch, and only process 0 writes files (`is_primary`); Orbax writes
each replicated checkpoint array once.
"""

from __future__ import annotations

import os

import jax
import numpy as np
from jax.sharding import AxisType, NamedSharding
from jax.sharding import PartitionSpec as P


def make_mesh(num_devices: int = 0) -> jax.sharding.Mesh:
  """A 1-D mesh over the first `num_devices` devices (0 = all devices, across hosts)."""
  devices = jax.devices()
  n = num_devices or len(devices)
  if n > len(devices):
    raise ValueError(f"config.devices={n} but only {len(devices)} devices are visible")
  return jax.sharding.Mesh(np.array(devices[:n]), ("data",), axis_types=(AxisType.Auto,))


def replicated(mesh) -> NamedSharding:
  return NamedSharding(mesh, P())


def shard_batch(x: jax.Array) -> jax.Array:
  """Constrains the leading (batch) axis of `x` to the current mesh's `data` axis, if there is one."""
  mesh = jax.sharding.get_abstract_mesh()
  if mesh.empty or "data" not in mesh.axis_names or x.shape[0] % mesh.shape["data"]:
    return x
  return jax.lax.with_sharding_constraint(x, P("data"))


def check_batch_size(batch_size: int, mesh, what: str = "batch_size") -> None:
  """Raises a one-line error if the global batch does not divide over the devices."""
  n = mesh.shape["data"]
  if batch_size % n:
    raise ValueError(
      f"config.{what}={batch_size} does not divide over {n} devices; use a multiple of {n} or set config.devices"
    )


def maybe_initialize_distributed(enabled: bool) -> None:
  """Multi-host: `jax.distributed.initialize()` once, before anything touches a JAX device.

  The coordinator comes from the cluster (TPU pods, SLURM, Open MPI, Kubernetes) or from the environment:
  JAX_COORDINATOR_ADDRESS=host:port, JAX_NUM_PROCESSES=n, JAX_PROCESS_ID=i (read here; JAX itself reads only
  the address). On CPU the processes' collectives go through gloo (JAX's default CPU implementation).
  """
  if not enabled or jax.distributed.is_initialized():
    return
  num, pid = os.environ.get("JAX_NUM_PROCESSES"), os.environ.get("JAX_PROCESS_ID")
  try:
    jax.distributed.initialize(
      num_processes=int(num) if num else None,
      process_id=int(pid) if pid else None,
      initialization_timeout=int(os.environ.get("FSGEN_DISTRIBUTED_TIMEOUT", "300")),
    )
  except (ValueError, TypeError) as e:
    raise ValueError(
      f"config.distributed=True but jax.distributed.initialize failed ({e}); outside a cluster set "
      "JAX_COORDINATOR_ADDRESS=host:port, JAX_NUM_PROCESSES and JAX_PROCESS_ID"
    ) from e


def is_primary() -> bool:
  """The process that writes files (metrics, TensorBoard, samples, exports, the workdir's config)."""
  return jax.process_index() == 0
