"""Checks a prepared dataset before any training: `python -m fsgen.data.check SOURCE [options]`.

Reads every image of the source (for `folder:` each file on its own, so that every unreadable file is
listed, not only the first), then reports what a preset with these `config.data` settings will see:
the number of images (and of classes), their native sizes and channel counts, how many will be upscaled
to the resolution, the k-shot subset, and the files that cannot be read. Exit status 1 when a file is
unreadable or the set cannot be prepared. Presets: `python experiments/check_data.py --config=NAME`.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import pathlib
import sys

import numpy as np

from fsgen.data import sources
from fsgen.data.sources import DataError


@dataclasses.dataclass
class Report:
  source: str
  files: int
  unreadable: list[str]
  sizes: collections.Counter  # (H, W) -> count, native
  channels: collections.Counter  # 1 or 3 -> count, native
  classes: int
  prepared: tuple | None  # shape [N, H, W, C] after subset and preprocessing, or None
  upscaled: int  # images smaller than the resolution on their shorter side
  error: str = ""

  @property
  def ok(self) -> bool:
    return not self.unreadable and not self.error

  def lines(self) -> list[str]:
    out = [
      f"source: {self.source}",
      f"images found: {self.files}" + (f" in {self.classes} classes" if self.classes else ""),
    ]
    if self.sizes:
      common = ", ".join(f"{w}x{h}: {n}" for (h, w), n in self.sizes.most_common(5))
      hs = [h for h, _ in self.sizes.elements()]
      ws = [w for _, w in self.sizes.elements()]
      out.append(
        f"native sizes (W x H): {common}{' ...' if len(self.sizes) > 5 else ''}; "
        f"width {min(ws)}-{max(ws)}, height {min(hs)}-{max(hs)}"
      )
      out.append("native channels: " + ", ".join(f"{c}: {n}" for c, n in sorted(self.channels.items())))
    if self.prepared is not None:
      n, h, w, c = self.prepared
      out.append(
        f"the preset sees: {n} images of {h}x{w}x{c} (uint8 on the device)"
        + (f"; {self.upscaled} of them upscaled from a smaller native size" if self.upscaled else "")
      )
    for name in self.unreadable[:20]:
      out.append(f"unreadable: {name}")
    if len(self.unreadable) > 20:
      out.append(f"... and {len(self.unreadable) - 20} more unreadable files")
    if self.error:
      out.append(f"error: {self.error}")
    out.append("OK" if self.ok else "NOT OK")
    return out


def _read_each(root: str, labels: bool) -> tuple[sources.RawImages, list[str]]:
  """Every image file below `root` read on its own: (the readable ones, the unreadable file names)."""
  path = pathlib.Path(root).expanduser()
  if not path.is_dir():
    raise DataError(f"image folder {path} does not exist" if not path.exists() else f"{path} is not a directory")
  files = sorted(p for p in path.rglob("*") if p.suffix.lower() in sources.IMAGE_SUFFIXES and p.is_file())
  images, names, bad, classes = [], [], [], []
  for f in files:
    try:
      images.append(sources._open_image(f, str(f)))  # pylint: disable=protected-access
      names.append(str(f))
      classes.append(f.relative_to(path).parts[0] if labels and len(f.relative_to(path).parts) > 1 else "")
    except DataError as e:
      bad.append(f"{f} ({str(e).split(': ', 2)[-1]})")
  lab = None
  if labels and images:
    index = {c: i for i, c in enumerate(sorted(set(classes)))}
    lab = np.array([index[c] for c in classes], np.int32)
  return sources.RawImages(images, lab, names), bad


def check(data_cfg) -> Report:
  """The report for `data_cfg` (the keys of config.data; see fsgen.data.load)."""
  from fsgen import data as fsdata  # pylint: disable=import-outside-toplevel

  get = data_cfg.get
  source = data_cfg["source"]
  scheme, _, rest = source.partition(":")
  try:
    if scheme == "folder":
      raw, bad = _read_each(rest, get("labels", False))
    else:
      raw, bad = (
        sources.read_source(
          source,
          labels=get("labels", False),
          tfds_data_dir=get("tfds_data_dir") or None,
          tfds_manual_dir=get("tfds_manual_dir") or None,
        ),
        [],
      )
  except DataError as e:
    return Report(source, 0, [], collections.Counter(), collections.Counter(), 0, None, 0, str(e))
  sizes = collections.Counter(tuple(im.shape[:2]) for im in raw.images)
  chans = collections.Counter(1 if im.ndim == 2 else im.shape[-1] for im in raw.images)
  classes = 0 if raw.labels is None or not len(raw.labels) else int(raw.labels.max()) + 1
  res = get("resolution", None)
  upscaled = sum(min(im.shape[:2]) < res for im in raw.images) if res else 0
  report = Report(source, len(raw.images) + len(bad), bad, sizes, chans, classes, None, upscaled)
  if bad:
    return report
  try:
    report.prepared = tuple(fsdata.load(data_cfg).images.shape)
  except DataError as e:
    report.error = str(e)
  return report


def main(argv=None) -> None:
  p = argparse.ArgumentParser(prog="python -m fsgen.data.check", description=__doc__.splitlines()[0])
  p.add_argument("source", help="folder:PATH, idx:DIR[:PREFIX], omniglot:ZIP, tfds:NAME[:SPLIT], builtin:digits")
  p.add_argument("--resolution", type=int, default=None)
  p.add_argument("--channels", type=int, default=None)
  p.add_argument("--shots", type=int, default=0)
  p.add_argument("--per_class", action="store_true")
  p.add_argument("--labels", action="store_true")
  a = p.parse_args(argv)
  cfg = dict(
    source=a.source,
    resolution=a.resolution,
    channels=a.channels,
    shots=a.shots,
    per_class=a.per_class,
    labels=a.labels or a.per_class,
  )
  report = check(cfg)
  print("\n".join(report.lines()))
  sys.exit(0 if report.ok else 1)


if __name__ == "__main__":
  main()
