"""Data: sources -> preprocessed uint8 [N, H, W, C] -> k-shot subset -> one device array.

`load(config.data)` is the one entry point. Batches are drawn inside the jitted phases with
`fsgen.data.batches.draw`, so no host input pipeline sits in the training loop.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib

import numpy as np

from fsgen.data import class_split
from fsgen.data.preprocess import prepare_images, to_float, to_uint8
from fsgen.data.sources import DataError, read_source
from fsgen.data.subsets import select_shots

__all__ = ["Dataset", "DataError", "load", "to_float", "to_uint8"]


@dataclasses.dataclass
class Dataset:
  """A whole (few-shot) training set in host memory.

  images: uint8 [N, H, W, C]; labels: int32 [N] or None; names: N strings; indices: positions of the
  kept images in the source (the k-shot record); meta: extra int arrays [N] (e.g. Omniglot alphabet).
  """

  images: np.ndarray
  labels: np.ndarray | None
  names: list[str]
  indices: np.ndarray
  meta: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
  class_names: list[str] | None = None

  def __len__(self) -> int:
    return len(self.images)

  @property
  def num_classes(self) -> int:
    return 0 if self.labels is None else int(self.labels.max()) + 1

  def write_record(self, workdir: str | pathlib.Path) -> None:
    """Writes the chosen indices and file names to WORKDIR/subset.json."""
    path = pathlib.Path(workdir) / "subset.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
      json.dumps(
        {
          "indices": self.indices.tolist(),
          "names": self.names,
          "labels": None if self.labels is None else self.labels.tolist(),
        },
        indent=1,
      )
    )


def load(cfg) -> Dataset:
  """Loads `cfg.source` and returns the preprocessed k-shot training set.

  Keys of cfg (a ConfigDict or mapping): source, resolution, channels, resize, shots, per_class,
  subset_seed, labels, tfds_data_dir, tfds_manual_dir; optional alphabets, exclude_alphabets (omniglot:
  alphabet filters) and class_split, class_split_seed, class_split_sizes (fsgen.data.class_split).
  """
  get = cfg.get
  raw = read_source(
    cfg["source"],
    labels=get("labels", False),
    tfds_data_dir=get("tfds_data_dir", None),
    tfds_manual_dir=get("tfds_manual_dir", None),
    alphabets=get("alphabets", ""),
    exclude_alphabets=get("exclude_alphabets", ""),
  )
  if get("class_split", ""):
    raw = class_split.select_part(
      raw,
      get("class_split"),
      get("class_split_seed", class_split.DEFAULT_SEED),
      get("class_split_sizes", class_split.DEFAULT_SIZES),
    )
  idx = select_shots(
    len(raw.images), get("shots", 0), seed=get("subset_seed", 0), labels=raw.labels, per_class=get("per_class", False)
  )
  images = prepare_images(
    [raw.images[i] for i in idx],
    [raw.names[i] for i in idx],
    resolution=get("resolution", None),
    channels=get("channels", None),
    resize=get("resize", True),
  )
  labels = None if raw.labels is None else raw.labels[idx]
  if labels is not None and get("per_class", False):
    # Re-index classes densely so a subset of classes still gives labels 0..C-1.
    _, labels = np.unique(labels, return_inverse=True)
    labels = labels.astype(np.int32)
  return Dataset(
    images, labels, [raw.names[i] for i in idx], idx, {k: v[idx] for k, v in raw.meta.items()}, raw.class_names
  )
