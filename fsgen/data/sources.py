"""Image sources: `builtin:`, `folder:`, `tfds:`, `idx:` and `omniglot:` URIs to raw images.

Every reader returns a `RawImages`: a list of images (each a uint8 array [H, W] or [H, W, C], sizes may
differ), integer labels or None, one name per image (file path or index, used in error messages and in the
k-shot record) and extra per-image metadata (e.g. Omniglot's alphabet). Preprocessing to one size and
channel count is done afterwards by `fsgen.data.preprocess`.

Every failure raises `DataError` with a one-line message that names the culprit (path, file, key, scheme).
"""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import io
import pathlib
import struct
import zipfile

import numpy as np
from PIL import Image

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


class DataError(ValueError):
  """Bad data input; the message is one line naming the file, key or value at fault."""


@dataclasses.dataclass
class RawImages:
  images: list[np.ndarray]
  labels: np.ndarray | None
  names: list[str]
  meta: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
  class_names: list[str] | None = None


def read_source(
  source: str,
  *,
  labels: bool = False,
  tfds_data_dir: str | None = None,
  tfds_manual_dir: str | None = None,
  alphabets: str = "",
  exclude_alphabets: str = "",
) -> RawImages:
  """Reads the images named by `source` (`scheme:rest`).

  Args:
    source: `builtin:digits`, `folder:PATH`, `tfds:NAME[:SPLIT]`, `idx:DIR[:PREFIX]` or `omniglot:PATH`
      (a zip or a folder of `<set>/<alphabet>/<character>/*.png`).
    labels: for `folder:`, use the first-level subfolder names as class labels.
    tfds_data_dir, tfds_manual_dir: TFDS build locations (`tfds:` only).
    alphabets, exclude_alphabets: comma-separated Omniglot alphabet names to keep / drop (`omniglot:` only).
  """
  scheme, sep, rest = source.partition(":")
  if not sep or not rest:
    raise DataError(f"data source {source!r} is not of the form scheme:rest (schemes: {', '.join(sorted(_READERS))})")
  if scheme not in _READERS:
    raise DataError(f"unknown data source scheme {scheme!r} in {source!r} (known: {', '.join(sorted(_READERS))})")
  if (alphabets or exclude_alphabets) and scheme != "omniglot":
    raise DataError(f"data.alphabets / data.exclude_alphabets apply to omniglot: sources only, not {source!r}")
  if scheme == "omniglot":
    return read_omniglot(rest, alphabets=alphabets, exclude_alphabets=exclude_alphabets)
  if scheme == "folder":
    return read_folder(rest, labels=labels)
  if scheme == "tfds":
    return read_tfds(rest, data_dir=tfds_data_dir or None, manual_dir=tfds_manual_dir or None)
  return _READERS[scheme](rest)


def read_builtin(name: str) -> RawImages:
  """scikit-learn's bundled handwritten digits (1,797 8x8 images, 17 grey levels), no download."""
  if name != "digits":
    raise DataError(f"unknown builtin dataset {name!r} (known: digits)")
  from sklearn.datasets import load_digits  # pylint: disable=import-outside-toplevel

  d = load_digits()
  # Values are 0..16 with ink high (bright strokes on black, like MNIST); scale to 0..255.
  imgs = np.round(d.images * (255.0 / 16.0)).astype(np.uint8)
  return RawImages(
    list(imgs),
    d.target.astype(np.int32),
    [f"digits[{i}]" for i in range(len(imgs))],
    class_names=[str(c) for c in range(10)],
  )


def _open_image(data_or_path, name: str) -> np.ndarray:
  try:
    with Image.open(data_or_path) as im:
      im.load()
      if im.mode in ("1", "L", "I;16", "I", "F"):
        im = im.convert("L")
      elif im.mode != "RGB":
        im = im.convert("RGB")
      return np.asarray(im, dtype=np.uint8)
  except (OSError, SyntaxError, ValueError) as e:
    raise DataError(f"cannot read image {name}: {e.__class__.__name__}: {str(e).splitlines()[0]}") from e


def read_folder(path: str, *, labels: bool = False) -> RawImages:
  """All png/jpg/jpeg/webp files below `path`, recursively, in sorted order.

  With `labels=True` the first-level subfolder of each file is its class (sorted folder names -> 0..C-1).
  """
  root = pathlib.Path(path).expanduser()
  if not root.exists():
    raise DataError(f"image folder {root} does not exist")
  if not root.is_dir():
    raise DataError(f"image folder {root} is not a directory")
  files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
  if not files:
    raise DataError(f"image folder {root} holds no {'/'.join(s[1:] for s in IMAGE_SUFFIXES)} files")
  images = [_open_image(f, str(f)) for f in files]
  lab, class_names = None, None
  if labels:
    rel = [f.relative_to(root).parts for f in files]
    loose = [str(files[i]) for i, r in enumerate(rel) if len(r) < 2]
    if loose:
      raise DataError(f"labels from subfolders asked, but {loose[0]} is not inside a class subfolder of {root}")
    class_names = sorted({r[0] for r in rel})
    index = {c: i for i, c in enumerate(class_names)}
    lab = np.array([index[r[0]] for r in rel], np.int32)
  return RawImages(images, lab, [str(f) for f in files], class_names=class_names)


def _read_idx(path: pathlib.Path) -> np.ndarray:
  """One MNIST-format idx file (gzip or plain): big-endian magic, dims, then uint8 data."""
  try:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
      raw = f.read()
    zero, dtype, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype != 0x08:
      raise DataError(f"{path} is not a uint8 idx file (magic bytes {raw[:4].hex()})")
    dims = struct.unpack(">" + "I" * ndim, raw[4 : 4 + 4 * ndim])
    data = np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
      raise DataError(f"{path} holds {data.size} values, its header promises {int(np.prod(dims))}")
    return data.reshape(dims)
  except (OSError, EOFError, struct.error) as e:
    raise DataError(f"cannot read idx file {path}: {e}") from e


def read_idx(spec: str) -> RawImages:
  """MNIST-format gzip idx files: `DIR` or `DIR:PREFIX` (PREFIX `train` or `t10k`, default train if present).

  Reads PREFIX-images-idx3-ubyte[.gz] and, when present, PREFIX-labels-idx1-ubyte[.gz].
  """
  d, _, prefix = spec.partition(":")
  root = pathlib.Path(d).expanduser()
  if not root.is_dir():
    raise DataError(f"idx folder {root} does not exist")
  image_files = sorted(root.glob("*-images-idx3-ubyte*"))
  if not image_files:
    raise DataError(f"idx folder {root} holds no *-images-idx3-ubyte[.gz] file")
  prefixes = [f.name.split("-images-")[0] for f in image_files]
  if not prefix:
    prefix = "train" if "train" in prefixes else prefixes[0]
  if prefix not in prefixes:
    raise DataError(f"idx folder {root} has no {prefix}-images file (found: {', '.join(prefixes)})")
  images = _read_idx(image_files[prefixes.index(prefix)])
  label_files = sorted(root.glob(f"{prefix}-labels-idx1-ubyte*"))
  labels = _read_idx(label_files[0]).astype(np.int32) if label_files else None
  if labels is not None and len(labels) != len(images):
    raise DataError(f"{label_files[0]} has {len(labels)} labels for {len(images)} images")
  return RawImages(list(images), labels, [f"{prefix}[{i}]" for i in range(len(images))])


def _names_list(value) -> list[str]:
  """'A, B' (or a sequence of names) -> ['A', 'B']."""
  return [a.strip() for a in (value.split(",") if isinstance(value, str) else value or ()) if a.strip()]


def read_omniglot(path: str, *, alphabets: str = "", exclude_alphabets: str = "") -> RawImages:
  """Omniglot as a zip or a folder of `<set>/<alphabet>/<character>/*.png`: label = character, alphabet in
  meta["alphabet"]. A folder may hold several sets (images_background and images_evaluation unzipped).

  alphabets / exclude_alphabets: comma-separated alphabet names to keep / drop ("" = no filter), so
  meta-training and meta-test alphabets can be kept apart; an unknown name is an error listing the
  alphabets present.
  """
  p = pathlib.Path(path).expanduser()
  with contextlib.ExitStack() as stack:
    if p.is_dir():
      files = sorted(f for f in p.rglob("*") if f.suffix.lower() == ".png" and f.is_file())
      entries = [(f.relative_to(p).as_posix(), f) for f in files]
      read = lambda f: f  # noqa: E731
    elif p.is_file():
      try:
        zf = stack.enter_context(zipfile.ZipFile(p))
      except zipfile.BadZipFile as e:
        raise DataError(f"omniglot zip {p} is not a zip file") from e
      entries = [(n, n) for n in sorted(n for n in zf.namelist() if n.lower().endswith(".png"))]
      read = lambda n: io.BytesIO(zf.read(n))  # noqa: E731
    else:
      raise DataError(f"omniglot zip or folder {p} does not exist")
    if not entries:
      raise DataError(f"omniglot source {p} holds no png files")
    bad = next((n for n, _ in entries if len(n.split("/")) < 3), None)
    if bad is not None:
      raise DataError(f"omniglot source {p}: {bad} is not inside alphabet/character folders")
    present = sorted({n.split("/")[-3] for n, _ in entries})
    keep, drop = _names_list(alphabets), _names_list(exclude_alphabets)
    unknown = [a for a in keep + drop if a not in present]
    if unknown:
      raise DataError(f"omniglot source {p} has no alphabet {unknown[0]!r} (alphabets: {', '.join(present)})")
    entries = [(n, r) for n, r in entries if (not keep or n.split("/")[-3] in keep) and n.split("/")[-3] not in drop]
    if not entries:
      raise DataError(f"omniglot source {p}: the alphabet filters leave no images")
    images = [_open_image(read(r), f"{p}:{n}") for n, r in entries]
  alphabet_of = [n.split("/")[-3] for n, _ in entries]
  chars = ["/".join(n.split("/")[-3:-1]) for n, _ in entries]
  class_names = sorted(set(chars))
  index = {c: i for i, c in enumerate(class_names)}
  alphabet_names = sorted(set(alphabet_of))
  a_index = {a: i for i, a in enumerate(alphabet_names)}
  return RawImages(
    images,
    np.array([index[c] for c in chars], np.int32),
    [f"{p}:{n}" for n, _ in entries],
    meta={"alphabet": np.array([a_index[a] for a in alphabet_of], np.int32)},
    class_names=class_names,
  )


def read_tfds(spec: str, *, data_dir: str | None, manual_dir: str | None) -> RawImages:
  """A TFDS dataset `NAME[:SPLIT]` (default split `train`), built with `download_and_prepare` if needed.

  TFDS is only the source here: the split is read once into memory as numpy, never used for batching.
  Building needs TensorFlow (`pip install fsgen[tfds]`); `manual_dir` points at already-downloaded files.
  """
  name, _, split = spec.partition(":")
  split = split or "train"
  try:
    import tensorflow_datasets as tfds  # pylint: disable=import-outside-toplevel
  except ImportError as e:
    raise DataError(f"tfds:{spec} needs tensorflow-datasets ({e})") from e
  try:
    builder = tfds.builder(name, data_dir=data_dir)
  except Exception as e:  # tfds raises its own DatasetNotFoundError and friends.
    raise DataError(f"unknown TFDS dataset {name!r}: {str(e).splitlines()[0]}") from e
  try:
    cfg = tfds.download.DownloadConfig(manual_dir=manual_dir) if manual_dir else None
    builder.download_and_prepare(download_config=cfg)
    arrays = tfds.as_numpy(builder.as_dataset(split=split, batch_size=-1))
  except ImportError as e:
    raise DataError(f"building tfds:{spec} needs TensorFlow: pip install 'fsgen[tfds]' ({e})") from e
  except Exception as e:  # network, missing manual files, unknown split...
    raise DataError(f"cannot build or read tfds:{spec}: {str(e).splitlines()[0]}") from e
  images = arrays.get("image")
  if images is None:
    raise DataError(f"tfds:{spec} has no 'image' feature (features: {', '.join(arrays)})")
  labels = arrays.get("label")
  try:
    class_names = builder.info.features["label"].names
  except (KeyError, AttributeError):
    class_names = None
  return RawImages(
    list(images),
    None if labels is None else np.asarray(labels, np.int32),
    [f"{name}/{split}[{i}]" for i in range(len(images))],
    class_names=class_names,
  )


_READERS = {
  "builtin": read_builtin,
  "folder": read_folder,
  "tfds": read_tfds,
  "idx": read_idx,
  "omniglot": read_omniglot,
}
