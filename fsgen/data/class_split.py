"""The seeded class split of a labelled source into meta-training / meta-validation / meta-test classes.

config.data.class_split = "train" | "val" | "test" keeps the classes of that part ("" keeps all), with
class_split_seed (default 47) and class_split_sizes (default (1200, 100, 323)): the official LASIUM /
UMTRA Omniglot split of all 1623 characters. The official code lists the character folders of
images_background and images_evaluation, sorts the paths, calls random.seed(47); random.shuffle(paths)
and takes the first 1200 for meta-training, the next 100 for meta-validation and the rest for meta-test
(a random split across alphabets). Sorting one key per class (its folder) and shuffling with
random.Random(seed) reproduces that order exactly for an `omniglot:` folder or zips of both sets.
"""

from __future__ import annotations

import os
import random

import numpy as np

from fsgen.data.sources import DataError, RawImages

PARTS = ("train", "val", "test")
DEFAULT_SEED = 47
DEFAULT_SIZES = (1200, 100, 323)


def split_classes(keys: list[str], seed: int, sizes: tuple[int, ...]) -> list[np.ndarray]:
  """Class indices (sorted) of each part: classes ordered by `keys`, shuffled by random.Random(seed), cut
  into consecutive parts of `sizes`. Raises DataError when the sizes do not add up to len(keys)."""
  if sum(sizes) != len(keys):
    raise DataError(f"data.class_split_sizes {tuple(sizes)} add up to {sum(sizes)}; the data has {len(keys)} classes")
  order = sorted(range(len(keys)), key=lambda c: keys[c])
  random.Random(seed).shuffle(order)
  bounds = np.cumsum([0, *sizes])
  return [np.array(sorted(order[a:b]), np.int64) for a, b in zip(bounds[:-1], bounds[1:])]


def class_keys(raw: RawImages) -> list[str]:
  """One sort key per class: the folder of its images when every class has its own folder (Omniglot
  character folders: the official order), else the class name, else the label number."""
  labels = np.asarray(raw.labels)
  num = int(labels.max()) + 1
  first = np.full(num, -1)
  for i in range(len(labels) - 1, -1, -1):
    first[labels[i]] = i
  folders = [os.path.dirname(raw.names[i]) if i >= 0 else "" for i in first]
  if len(set(folders)) == num and all(folders):
    return folders
  if raw.class_names is not None and len(raw.class_names) == num:
    return list(raw.class_names)
  return [f"{c:08d}" for c in range(num)]


def select_part(raw: RawImages, part: str, seed: int = DEFAULT_SEED, sizes=DEFAULT_SIZES) -> RawImages:
  """The images of the classes of `part` ("train", "val" or "test"), labels re-indexed densely 0..C-1."""
  if part not in PARTS:
    raise DataError(f"data.class_split must be one of {', '.join(PARTS)} (or empty), got {part!r}")
  if raw.labels is None:
    raise DataError("data.class_split needs a labelled source")
  if len(sizes) != len(PARTS):
    raise DataError(f"data.class_split_sizes needs {len(PARTS)} sizes (train, val, test), got {tuple(sizes)}")
  classes = split_classes(class_keys(raw), seed, tuple(int(s) for s in sizes))[PARTS.index(part)]
  keep = np.flatnonzero(np.isin(raw.labels, classes))
  dense = {int(c): i for i, c in enumerate(classes)}
  return RawImages(
    [raw.images[i] for i in keep],
    np.array([dense[int(raw.labels[i])] for i in keep], np.int32),
    [raw.names[i] for i in keep],
    {k: v[keep] for k, v in raw.meta.items()},
    None if raw.class_names is None else [raw.class_names[c] for c in classes],
  )
