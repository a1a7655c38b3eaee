"""The static facts of a training set that methods and schedules need: `DataInfo`.

The loop (fsgen.train) builds one from the loaded dataset and the configured batch and hands it to the
method (`Method(config, info)`); it also converts durations given in epochs into steps with it
(fsgen.schedule). A workdir keeps it in `data_info.json` and every export carries it, so a sampler
rebuilt from an export sees the same facts as the trainer did.
"""

from __future__ import annotations

import dataclasses
import json
import math
import pathlib


@dataclasses.dataclass(frozen=True)
class DataInfo:
  """num_images N, image_shape (H, W, C), num_classes (0 when unlabelled), batch_size B (global)."""

  num_images: int
  image_shape: tuple[int, int, int]
  num_classes: int
  batch_size: int

  def __post_init__(self):
    if self.num_images < 1:
      raise ValueError(f"the training set is empty (num_images={self.num_images})")
    if self.batch_size < 1:
      raise ValueError(f"config.batch_size must be a positive integer, got {self.batch_size}")
    object.__setattr__(self, "image_shape", tuple(int(s) for s in self.image_shape))

  @property
  def steps_per_epoch(self) -> int:
    """ceil(N / B): steps of one pass over the set when the last batch may be partial (or padded)."""
    return math.ceil(self.num_images / self.batch_size)

  @property
  def full_batches(self) -> int:
    """N // B: steps of one pass in whole batches (the last N % B images of a shuffled pass are dropped)."""
    return self.num_images // self.batch_size

  @classmethod
  def of(cls, dataset, batch_size: int) -> DataInfo:
    """The facts of a fsgen.data.Dataset at the configured global batch."""
    return cls(len(dataset), tuple(dataset.images.shape[1:]), dataset.num_classes, int(batch_size))

  @classmethod
  def for_arrays(cls, data: dict, batch_size: int) -> DataInfo:
    """The facts of a data dict {"images": [N, H, W, C], "labels": int [N] (optional)} (tests, notebooks)."""
    labels = data.get("labels")
    classes = 0 if labels is None or len(labels) == 0 else int(max(labels)) + 1
    return cls(int(data["images"].shape[0]), tuple(data["images"].shape[1:]), classes, int(batch_size))

  def to_dict(self) -> dict:
    return {**dataclasses.asdict(self), "image_shape": list(self.image_shape)}

  @classmethod
  def from_dict(cls, d: dict) -> DataInfo:
    return cls(int(d["num_images"]), tuple(d["image_shape"]), int(d["num_classes"]), int(d["batch_size"]))

  def write(self, path: str | pathlib.Path) -> None:
    pathlib.Path(path).write_text(json.dumps(self.to_dict(), indent=1))

  @classmethod
  def read(cls, path: str | pathlib.Path) -> DataInfo:
    path = pathlib.Path(path)
    if not path.exists():
      raise FileNotFoundError(f"{path} not found: the workdir or export predates data records; retrain it")
    return cls.from_dict(json.loads(path.read_text()))
