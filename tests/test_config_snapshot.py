"""Every preset resolves to the config it had before the structure change (snapshot at 512d6ab).

tests/snapshots/resolved_configs.json holds the resolved config of every preset, with and without
`:test`, taken before presets moved into experiments/configs/_<method>.py and durations could be given in
epochs. Allowed differences, each listed here with its reason:
  - keys that did not exist then, at a neutral value (0, False, "", None, {}): new options that change
    nothing unless set;
  - MIGRATED: a duration now stated in epochs whose step count the loop derives from the data, checked
    equal to the old step count by `EPOCH_EQUIVALENT`;
  - CHANGED: values changed on purpose by a later fix (named with its issue).
Paths under the shared datasets compare as "{shared}".
"""

import json
import math

import pytest

from experiments import configs as presets

from conftest import ROOT

SNAPSHOT = json.loads((ROOT / "tests" / "snapshots" / "resolved_configs.json").read_text())
NEUTRAL = (0, False, "", None, {}, [])
# keys added after the snapshot whose default reproduces the old behaviour (max_param_norm: issue 18, a
# divergence guard far above the parameter norm of any working run)
NEW_DEFAULTS = {"dtype": "float32", "max_param_norm": 1e6}

# spec -> {dotted key: (old value, new value, reason)}: deliberate changes after the snapshot.
CHANGED: dict[str, dict[str, tuple]] = {
  # issue 15: the CPU presets read the shared panda100 folder by default (data_root was "datasets").
  **{
    p: {"data.source": ("folder:datasets/panda100/img", "folder:{shared}/panda100/img", "issue 15: shared data")}
    for p in ("adaimle_panda100_cpu", "imle_panda100_cpu")
  },
}
# issue 17: Adaptive IMLE / IMLE reuse the pool as the official code does (sampler.py imle_sample_force).
for _spec in [s for s in SNAPSHOT if s.startswith(("adaimle_", "imle_"))]:
  CHANGED.setdefault(_spec, {})["imle.pool_reuse"] = (None, True, "issue 17: official pool reuse")
# issue 17: the CPU presets measured for recognisable pandas: LPIPS on the 2x upsampled input, spatial noise
# up to 8 px, a longer run (the old 2,500 steps were 100 epochs).
_CPU_CHANGES = {
  "imle.lpips_size": (None, 64, "issue 17: LPIPS at 64 px separates blur, noise and identity"),
  "model.G.noise_max_res": (None, 8, "issue 17: spatial noise up to 8 px"),
}
for _p in ("adaimle_panda100_cpu", "imle_panda100_cpu"):
  for _t in ("", ":test"):
    CHANGED[_p + _t].update(_CPU_CHANGES)
  CHANGED[_p]["total_steps"] = (2500, 5000, "issue 17: 200 epochs instead of 100")

# issue 15: AugIntAE's run length is total_epochs; augintae.epochs duplicated it and was never read
_AUGINTAE = ("augintae_omniglot_cpu", "intae_omniglot_cpu", "ae_omniglot_cpu", "augintae_mnist", "augintae_omniglot")
for _spec in [f"{p}{t}" for p in (*_AUGINTAE, "augintae_cifar10") for t in ("", ":test")]:
  CHANGED.setdefault(_spec, {})["augintae.epochs"] = (100, None, "issue 15: duplicate of total_epochs, never read")
  CHANGED[_spec].update(  # issue 13: AugIntAE's D and its k rule as the paper describes them
    {
      "model.d_norm": (None, "batch", "issue 13: D has the encoder's architecture, batch norm (was pixel norm)"),
      "augintae.d_batch": (None, "joint", "issue 13: D's batch norm sees real and decoded images in one batch"),
      "augintae.lsgan.fake": (None, -1.0, "issue 13: LSGAN fake target -1 (was 0): margins above 1, k rises"),
      "augintae.lsgan.real": (None, 1.0, "issue 13: the real target, as before"),
      "augintae.lsgan.generator": (None, 1.0, "issue 13: G's target, as before"),
      "model.upsample": (None, "transpose", "issue 13: the paper's 4x4 stride-2 transposed conv"),
    }
  )

# issue 12: MixDL's R1 target is a key (default: the image logit, the paper-era code); the CPU presets run
# the length the plain twin needs to draw recognisable images, with the paper's EMA.
_MIXDL = ("mixdl_ffhq10", "mixdl_anime10", "mixdl_dog10", "mixdl_sketches10", "mixdl_anime10_cpu", "mixdl_panda10_cpu")
for _spec in [f"{p}{twin}{t}" for p in _MIXDL for twin in ("", "_nomixdl") for t in ("", ":test")]:
  CHANGED.setdefault(_spec, {})["mixdl.r1_target"] = (None, "image", "issue 12: R1 target, paper-era image logit")
  if "_cpu" in _spec:
    CHANGED[_spec]["mixdl.ema_decay"] = (0.999, 0.5 ** (32 / 10000), "issue 12: the paper's EMA")
    if ":test" not in _spec:
      CHANGED[_spec]["total_steps"] = (3000, 10_000, "issue 12: calibrated CPU length")
      CHANGED[_spec]["evals.nn.every"] = (3000, 10_000, "issue 12: at the end of the run")

# issue 16: the quickstart gets R1 so it does not collapse on the 10-shot sets users bring
# (experiments/reproduce/quickstart_robustness.py: 4 of 10 distinct NN on held-out MNIST digits without it).
for _spec in ("quickstart", "quickstart:test"):
  CHANGED.setdefault(_spec, {})["gan.r1_gamma"] = (0.0, 10.0, "issue 16: R1 against collapse on users' sets")
  CHANGED[_spec]["gan.mode_seeking"] = (None, 0.01, "issue 16: MSGAN's term against G ignoring z (Omniglot)")

# preset name -> number of training images N, for presets whose durations moved to epochs: the loop's
# step count is epochs * ceil(N / batch_size) (fsgen.schedule), compared with the old step count.
EPOCH_EQUIVALENT: dict[str, int] = {
  "augintae_omniglot_cpu": 2720,  # Omniglot images_background_small1 (tests/test_augintae.py checks N)
  "intae_omniglot_cpu": 2720,
  "ae_omniglot_cpu": 2720,
  "augintae_mnist": 60000,  # MNIST train
  "augintae_omniglot": 19280,  # Omniglot background alphabets
  "augintae_cifar10": 50000,  # CIFAR-10 train
  "cola_cifar10": 50000,  # CIFAR-10 train (stage 1 counts 2 loop epochs per COLA epoch)
  "cola_stl10": 5000,  # STL-10 labelled train images
  "cola_fmnist_cpu": 1000,  # data.shots
  "scola_cifar10": 1000,  # 100 per class x 10 classes
  **{f"scola_cifar10_{k}spc": 10 * k for k in (5, 10, 20, 50, 100)},
  "scola_fmnist_cpu": 200,  # 20 per class x 10 classes
  **{f"scola_fmnist_{k}spc_cpu": 10 * k for k in (5, 10, 20)},
  "adaimle_panda100_cpu": 100,  # the 100 pandas
  "imle_panda100_cpu": 100,
}

# Issue 14 (COLA / sCOLA fidelity).
_MMDC_DECAY = (None, False, "issue 14: Step I weight decay spares 1-D params, as MMDC")
_CROP_FILL = (None, -1.0, "issue 14: the classifier's crop pads with black (the background), not mid-grey 0")
_B3_ITERS = (1, 2, "issue 14: B.3's iterations per epoch = one pass over the largest set (20 spc), not 1")
for _spec in SNAPSHOT:
  _name = _spec.partition(":")[0]
  if _name.startswith("cola_"):  # the snapshot holds the default stage=1
    CHANGED.setdefault(_spec, {})["optim.E.decay_vectors"] = _MMDC_DECAY
  if _name.startswith("scola_"):
    CHANGED.setdefault(_spec, {})["classify.fill"] = _CROP_FILL
    if _name.startswith("scola_fmnist") and not _spec.endswith(":test"):
      CHANGED[_spec]["classify.steps_per_epoch"] = _B3_ITERS


def _normalise(tree):
  text = json.dumps(tree, sort_keys=True)
  return json.loads(text.replace(str(presets.shared_data()), "{shared}"))


def _flatten(tree, prefix=""):
  out = {}
  for k, v in tree.items():
    if isinstance(v, dict) and v:
      out.update(_flatten(v, f"{prefix}{k}."))
    else:
      out[f"{prefix}{k}"] = v
  return out


def _effective(flat: dict, spec: str) -> dict:
  """Durations in epochs -> the old step form where the step count was derived from a known N."""
  n = EPOCH_EQUIVALENT.get(spec.partition(":")[0])
  if n is None or not flat.get("total_epochs"):
    return flat
  out = dict(flat)
  per_epoch = math.ceil(n / flat["batch_size"])
  for key in ("total_steps", "log_every", "sample_every", "ckpt_every"):
    epochs_key = key.replace("_steps", "") + "_epochs"
    if out.get(epochs_key):
      out[key], out[epochs_key] = math.ceil(out[epochs_key] * per_epoch), 0
  return out


@pytest.mark.parametrize("spec", sorted(SNAPSHOT))
def test_resolved_config_unchanged(spec):
  name = spec.partition(":")[0]
  if name not in presets.available():
    pytest.fail(f"preset {name} disappeared")
  old = _flatten(SNAPSHOT[spec])
  new = _effective(_flatten(_normalise(json.loads(presets.load(spec).to_json_best_effort()))), spec)
  changed = CHANGED.get(spec, {})
  problems = []
  for key in sorted(set(old) | set(new)):
    if key in changed:
      before, after, _ = changed[key]
      if old.get(key) != before or new.get(key) != after:
        problems.append(
          f"{key}: expected deliberate change {before!r} -> {after!r}, got {old.get(key)!r} -> {new.get(key)!r}"
        )
      continue
    if key not in old:
      if new[key] not in NEUTRAL and NEW_DEFAULTS.get(key.rsplit(".", 1)[-1], object()) != new[key]:
        problems.append(f"{key}: new key with non-neutral value {new[key]!r}")
    elif old.get(key) != new.get(key):
      problems.append(f"{key}: {old.get(key)!r} -> {new.get(key, '<removed>')!r}")
  assert not problems, f"{spec}: " + "; ".join(problems)


def test_every_preset_is_in_the_snapshot():
  """A new preset is fine, but its absence here must be deliberate: list it when adding it."""
  new_presets = {n for n in presets.available()} - {s.partition(":")[0] for s in SNAPSHOT}
  assert new_presets <= set(ADDED_AFTER_SNAPSHOT), sorted(new_presets - set(ADDED_AFTER_SNAPSHOT))


ADDED_AFTER_SNAPSHOT: tuple[str, ...] = (
  # LASIUM (issue 11): generators, meta-learners and the supervised bound, paper and CPU scale.
  "lasium_gan_omniglot",
  "lasium_gan_omniglot_cpu",
  "lasium_omniglot",
  "lasium_omniglot_cpu",
  "lasium_supervised_omniglot",
  "lasium_supervised_omniglot_cpu",
  "lasium_vae_omniglot",
  "lasium_vae_omniglot_cpu",
)
