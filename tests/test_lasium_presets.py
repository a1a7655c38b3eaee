"""Every LASIUM preset builds and trains a few steps at reduced size through the loop (one compilation per
phase, episodes evaluated in the loop and by experiments/eval.py); the generator -> meta-learner chain
through config.init_from; one device equals four for the meta step."""

import json

import jax
import numpy as np
import pytest

from experiments import configs as presets
from experiments import eval as eval_script
from experiments.configs import _lasium
from fsgen import checkpoint, train

from conftest import shared_path

GENERATORS = ["lasium_gan_omniglot", "lasium_gan_omniglot_cpu", "lasium_vae_omniglot", "lasium_vae_omniglot_cpu"]
LEARNERS = ["lasium_omniglot", "lasium_omniglot_cpu", "lasium_supervised_omniglot", "lasium_supervised_omniglot_cpu"]


@pytest.fixture(autouse=True)
def _needs_omniglot():
  shared_path("omniglot", "images_background_small1.zip")
  shared_path("omniglot", "images_background_small2.zip")


def _run(spec, workdir, **overrides):
  c = presets.load(spec)
  c.devices, c.progress = 1, False
  for k, v in overrides.items():
    c[k] = v
  return train.train_and_evaluate(c, workdir)


def _log(workdir):
  return [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("name", GENERATORS)
def test_generator_presets_train(name, tmp_path):
  result = _run(f"{name}:test", tmp_path)
  assert result.compile_counts == {p: 1 for p in result.compile_counts}
  assert all(np.isfinite(v) for line in _log(tmp_path) for k, v in line.items() if k != "step")
  assert (tmp_path / "export" / "config.json").exists()


@pytest.mark.parametrize("name", LEARNERS)
def test_learner_presets_train_and_evaluate_episodes(name, tmp_path):
  result = _run(f"{name}:test", tmp_path)
  assert result.compile_counts == {"meta": 1}
  log = _log(tmp_path)
  acc = [line["1shot/accuracy"] for line in log if "1shot/accuracy" in line]
  assert acc and 0.0 <= acc[-1] <= 1.0
  assert any(np.isfinite(line.get("learner/query_loss", np.nan)) for line in log)


def test_paper_presets_use_the_official_split_and_test_classes():
  c = presets.load("lasium_omniglot:strategy=oc,generator=vae,learner=protonets,data=/x")
  assert (
    c.data.source == "omniglot:/x"
    and c.data.class_split == "train"
    and tuple(c.data.class_split_sizes)
    == (
      1200,
      100,
      323,
    )
  )
  assert c.evals["1shot"].reference.class_split == "test" and c.evals["5shot"].k_shot == 5
  assert c.generator.kind == "vae" and c.generator.latent == 20 and c.lasium.alpha == 0.4 and c.lasium.query_shift == 5
  assert c.init_from == "runs/lasium_vae_omniglot" and c.total_steps == 8000
  n = presets.load("lasium_omniglot_cpu:strategy=n")
  assert n.lasium.epsilon == _lasium.SHIPPED_EPSILON and n.lasium.sigma == 0.5
  assert presets.load("lasium_omniglot_cpu:untrained").init_from == ""
  assert presets.load("lasium_supervised_omniglot_cpu:steps=0").total_steps == 0
  with pytest.raises(ValueError, match="strategy must be"):
    presets.load("lasium_omniglot_cpu:strategy=x")


def test_generator_to_meta_learner_chain_and_eval_script(tmp_path):
  gan_dir, meta_dir = tmp_path / "gan", tmp_path / "meta"
  _run("lasium_gan_omniglot_cpu:test", gan_dir)
  c = presets.load("lasium_omniglot_cpu:test")
  c.devices, c.progress = 1, False
  c.lasium.untrained_generator, c.init_from = False, str(gan_dir)
  c.generator.width = 8
  result = train.train_and_evaluate(c, meta_dir)
  gan_state, _ = checkpoint.restore_raw(gan_dir)
  for a, b in zip(jax.tree.leaves(gan_state["params"]["G"]), jax.tree.leaves(result.state["frozen"]["G"])):
    np.testing.assert_array_equal(a, np.asarray(b))  # the generator arrived and stayed frozen
  out = eval_script.evaluate(str(meta_dir), ["episodes"], sets={"episodes": {"n_tasks": 4}})
  assert out["1shot"]["tasks"] == 4 and 0.0 <= out["1shot"]["accuracy"] <= 1.0
  record = json.loads((meta_dir / "episodes_1shot.json").read_text())
  assert len(record["tasks"]) == 4 and any(a in json.dumps(record) for a in ("Tagalog", "Sanskrit", "katakana"))


def test_one_device_equals_four_for_the_meta_step(tmp_path):
  params = {}
  for devices in (1, 4):
    c = presets.load("lasium_omniglot_cpu:test")
    c.devices, c.progress, c.batch_size, c.total_steps, c.evals = devices, False, 4, 1, {}
    params[devices] = train.train_and_evaluate(c, tmp_path / f"d{devices}").state["params"]["learner"]
  for a, b in zip(jax.tree.leaves(params[1]), jax.tree.leaves(params[4])):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)
