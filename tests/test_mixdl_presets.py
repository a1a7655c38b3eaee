"""Every MixDL preset (paper 256 px ones, CPU ones and their _nomixdl twins) builds and trains 2 steps
through the real loop at its reduced `test` size, hitting every phase once; full-size configs are checked
for the paper's constants without building them."""

import json

import numpy as np
import pytest

from experiments import configs as presets
from fsgen import train

PRESETS = [n for n in presets.available() if n.startswith("mixdl_")]


def test_all_presets_are_listed():
  for name in ("ffhq10", "anime10", "dog10", "sketches10", "anime10_cpu", "panda10_cpu"):
    assert f"mixdl_{name}" in PRESETS and f"mixdl_{name}_nomixdl" in PRESETS


@pytest.mark.parametrize("name", PRESETS)
def test_preset_full_size_settings(name):
  c = presets.load(name)
  assert c.method == "mixdl"
  assert c.mixdl.g_dist == c.mixdl.d_dist == (not name.endswith("_nomixdl"))
  if "_cpu" in name:
    assert c.data.resolution <= 64 and c.data.shots == 10
  else:
    assert c.data.resolution == 256 and c.batch_size == 4 and c.model.backbone == "stylegan2"
    assert (c.mixdl.lambda_g, c.mixdl.lambda_d, c.mixdl.mixup_every, c.mixdl.alpha) == (1000.0, 1.0, 2, 1.0)
    assert c.model.G.channel_base == 32768 and c.model.G.w_dim == 512 and c.mixdl.r1_every == 16


@pytest.mark.parametrize("name", PRESETS)
def test_preset_trains_two_steps_at_test_size(name, tmp_path):
  c = presets.load(f"{name}:test")
  c.devices = 1
  c.progress = False
  result = train.train_and_evaluate(c, tmp_path)
  assert int(result.state["step"]) == 2
  expected = (
    {"D", "D_mix", "D_r1", "G", "G_mix", "G_pl"} if not name.endswith("_nomixdl") else {"D", "D_r1", "G", "G_pl"}
  )
  if c.model.backbone == "fastgan":
    expected -= {"D_r1", "G_pl"}
  assert set(result.trace_counts) == expected and set(result.trace_counts.values()) == {1}
  lines = [json.loads(l) for l in (tmp_path / "metrics.jsonl").read_text().splitlines()]
  values = [v for l in lines for k, v in l.items() if k != "step"]
  assert values and all(np.isfinite(values))
  if not name.endswith("_nomixdl"):
    assert any("G/mixdl_kl" in l for l in lines)
