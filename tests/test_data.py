"""fsgen.data: sources, preprocessing, k-shot subsets, errors."""

import gzip
import json
import struct

import numpy as np
import pytest
from PIL import Image

from fsgen import data as fsdata
from fsgen.configs import data_defaults
from fsgen.data.preprocess import prepare_images, resize_center_crop, to_channels
from fsgen.data.sources import DataError, read_source
from fsgen.data.subsets import select_shots

from conftest import shared_path


def _write(path, array, fmt=None):
  path.parent.mkdir(parents=True, exist_ok=True)
  Image.fromarray(array).save(path, format=fmt)


def test_builtin_digits():
  raw = read_source("builtin:digits")
  assert len(raw.images) == 1797 and raw.images[0].shape == (8, 8)
  assert raw.images[0].dtype == np.uint8 and max(im.max() for im in raw.images) == 255
  assert sorted(set(raw.labels.tolist())) == list(range(10))


def test_load_digits_kshot_per_class():
  ds = fsdata.load(
    data_defaults(source="builtin:digits", resolution=16, channels=3, shots=2, per_class=True, labels=True)
  )
  assert ds.images.shape == (20, 16, 16, 3) and ds.images.dtype == np.uint8
  assert np.bincount(ds.labels).tolist() == [2] * 10
  # gray -> RGB repeats the channel
  np.testing.assert_array_equal(ds.images[..., 0], ds.images[..., 2])


def test_folder_recursive_sorted_labels_and_formats(tmp_path):
  rng = np.random.default_rng(0)
  for cls, fmt, suffix in [("b_cls", "PNG", "png"), ("a_cls", "JPEG", "jpg"), ("a_cls", "WEBP", "webp")]:
    for i in range(2):
      _write(tmp_path / cls / "deep" / f"{suffix}{i}.{suffix}", rng.integers(0, 255, (20, 30, 3), np.uint8), fmt)
  (tmp_path / "a_cls" / "notes.txt").write_text("not an image")
  raw = read_source(f"folder:{tmp_path}", labels=True)
  assert raw.names == sorted(raw.names) and len(raw.names) == 6
  assert [n.split("/")[-3] for n in raw.names] == ["a_cls"] * 4 + ["b_cls"] * 2
  assert raw.labels.tolist() == [0, 0, 0, 0, 1, 1] and raw.class_names == ["a_cls", "b_cls"]
  unlabeled = read_source(f"folder:{tmp_path}")
  assert unlabeled.labels is None


def test_resize_center_crop_keeps_the_centre():
  img = np.zeros((40, 80), np.uint8)
  img[:, 20:60] = 255  # the central square is white, the sides black
  out = resize_center_crop(img, 10)
  assert out.shape == (10, 10)
  assert out.min() >= 230  # the centre crop sees only the white square (Lanczos rings a little at its edge)


def test_resize_is_antialiased():
  checker = (np.indices((64, 64)).sum(0) % 2 * 255).astype(np.uint8)
  out = resize_center_crop(checker, 8)
  # A point-sampled resize would give pure 0/255; an antialiased one averages to mid grey.
  assert np.all(np.abs(out.astype(int) - 128) < 20)


def test_channels_roundtrip():
  rgb = np.zeros((4, 4, 3), np.uint8)
  rgb[..., 0] = 255
  gray = to_channels(rgb, 1)
  assert gray.shape == (4, 4, 1) and gray[0, 0, 0] == 76  # ITU-R 601-2: 0.299 * 255
  assert to_channels(gray, 3).shape == (4, 4, 3)


def test_prepare_mixed_channels_needs_channels():
  with pytest.raises(DataError, match="mixed channel counts"):
    prepare_images([np.zeros((4, 4), np.uint8), np.zeros((4, 4, 3), np.uint8)], ["a", "b"], resolution=4, channels=None)


def test_kshot_is_deterministic_and_recorded(tmp_path):
  a = select_shots(100, 10, seed=3)
  assert np.array_equal(a, select_shots(100, 10, seed=3)) and not np.array_equal(a, select_shots(100, 10, seed=4))
  assert len(set(a.tolist())) == 10
  ds = fsdata.load(data_defaults(source="builtin:digits", resolution=8, channels=1, shots=5, subset_seed=3))
  ds.write_record(tmp_path)
  record = json.loads((tmp_path / "subset.json").read_text())
  assert record["indices"] == ds.indices.tolist() and len(record["names"]) == 5


@pytest.mark.parametrize(
  "source, match",
  [
    ("folder:/no/such/dir", "does not exist"),
    ("nosuch:thing", "unknown data source scheme 'nosuch'"),
    ("digits", "not of the form scheme:rest"),
    ("builtin:cifar", "unknown builtin dataset"),
  ],
)
def test_bad_sources(source, match):
  with pytest.raises(DataError, match=match):
    read_source(source)


def test_empty_folder(tmp_path):
  with pytest.raises(DataError, match=f"image folder {tmp_path} holds no"):
    read_source(f"folder:{tmp_path}")


def test_corrupt_image_named(tmp_path):
  _write(tmp_path / "ok.png", np.zeros((8, 8, 3), np.uint8))
  (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 definitely not a jpeg")
  with pytest.raises(DataError, match="broken.jpg"):
    read_source(f"folder:{tmp_path}")


def test_fewer_images_than_shots(tmp_path):
  for i in range(3):
    _write(tmp_path / f"{i}.png", np.zeros((8, 8, 3), np.uint8))
  with pytest.raises(DataError, match="data.shots=5 but the source has only 3 images"):
    fsdata.load(data_defaults(source=f"folder:{tmp_path}", shots=5))


def test_mixed_sizes_with_resize_off(tmp_path):
  _write(tmp_path / "a.png", np.zeros((8, 8, 3), np.uint8))
  _write(tmp_path / "b.png", np.zeros((9, 8, 3), np.uint8))
  with pytest.raises(DataError, match="b.png is 8x9, expected 8x8"):
    fsdata.load(data_defaults(source=f"folder:{tmp_path}", resolution=8, resize=False))
  with pytest.raises(DataError, match="mixed image sizes"):
    fsdata.load(data_defaults(source=f"folder:{tmp_path}", resolution=None, resize=False))


def test_idx_tiny(tmp_path):
  imgs = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
  with gzip.open(tmp_path / "train-images-idx3-ubyte.gz", "wb") as f:
    f.write(struct.pack(">HBB3I", 0, 8, 3, 2, 3, 4) + imgs.tobytes())
  with gzip.open(tmp_path / "train-labels-idx1-ubyte.gz", "wb") as f:
    f.write(struct.pack(">HBBI", 0, 8, 1, 2) + bytes([7, 1]))
  raw = read_source(f"idx:{tmp_path}")
  np.testing.assert_array_equal(np.stack(raw.images), imgs)
  assert raw.labels.tolist() == [7, 1]
  with pytest.raises(DataError, match="no t10k-images file"):
    read_source(f"idx:{tmp_path}:t10k")


def test_idx_mnist_test_set():
  path = shared_path("mnist")
  raw = read_source(f"idx:{path}:t10k")
  assert len(raw.images) == 10000 and raw.images[0].shape == (28, 28)
  assert np.bincount(raw.labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_omniglot_zip():
  path = shared_path("omniglot", "images_background_small1.zip")
  raw = read_source(f"omniglot:{path}")
  assert len(raw.images) == 2720 and raw.images[0].shape == (105, 105)
  assert raw.labels.max() + 1 == 136 and np.bincount(raw.labels).tolist() == [20] * 136
  assert raw.meta["alphabet"].max() + 1 == 5
  assert set(np.unique(raw.images[0]).tolist()) <= {0, 255}


def test_omniglot_not_a_zip(tmp_path):
  (tmp_path / "x.zip").write_bytes(b"nope")
  with pytest.raises(DataError, match="is not a zip file"):
    read_source(f"omniglot:{tmp_path / 'x.zip'}")


def test_tfds_fashion_mnist_from_manual_dir(tmp_path):
  manual = shared_path("fashion_mnist")
  pytest.importorskip("tensorflow", reason="building a TFDS dataset needs TensorFlow (pip install fsgen[tfds])")
  ds = fsdata.load(
    data_defaults(
      source="tfds:fashion_mnist:test",
      resolution=28,
      channels=1,
      tfds_data_dir=str(tmp_path),
      tfds_manual_dir=str(manual),
    )
  )
  assert ds.images.shape == (10000, 28, 28, 1)
  assert np.bincount(ds.labels).tolist() == [1000] * 10
  # Same images as the idx files of the same release.
  idx = read_source(f"idx:{manual}:t10k")
  assert sorted(map(bytes, ds.images[..., 0].reshape(10000, -1))) == sorted(
    map(bytes, np.stack(idx.images).reshape(10000, -1))
  )


def test_to_float_range_and_back():
  from fsgen.data.preprocess import to_float, to_uint8

  x = np.array([0, 128, 255], np.uint8)
  f = np.asarray(to_float(x))
  np.testing.assert_allclose(f[[0, 2]], [-1.0, 1.0])
  np.testing.assert_array_equal(to_uint8(f), x)
