"""Trains a preset: python experiments/run.py --config=NAME[:arg] [--workdir=DIR] [--config.key=value ...]

--config=NAME resolves to experiments/configs/NAME.py (an unknown NAME lists the available ones);
--config=path/to/file.py[:arg] also works; --config.a.b=value overrides a key (unknown keys are errors).
The workdir defaults to runs/NAME; re-running the same command resumes from its last checkpoint.
"""

import json
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # run from a plain checkout too

from absl import app, flags, logging  # noqa: E402
from ml_collections import config_flags  # noqa: E402

from experiments import configs  # noqa: E402


def _resolve_config_flag(argv: list[str]) -> tuple[list[str], str]:
  """Rewrites --config=NAME[:arg] to the preset's path before absl parses flags; returns the NAME."""
  out, name = [], "run"
  for i, a in enumerate(argv):
    value = None
    if a.startswith("--config="):
      value = a.split("=", 1)[1]
    elif a == "--config" and i + 1 < len(argv):
      continue  # handled with the next item
    elif i > 0 and argv[i - 1] == "--config":
      value = a
    if value is None:
      out.append(a)
      continue
    try:
      resolved = configs.resolve(value)
    except (ValueError, FileNotFoundError) as e:
      sys.exit(f"error: {e}")
    name = pathlib.Path(value.partition(":")[0]).stem
    out.append(f"--config={resolved}")
  return out, name


argv, NAME = _resolve_config_flag(sys.argv)
_CONFIG = config_flags.DEFINE_config_file("config", None, "Preset name or path.py[:arg].", lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Output directory (default runs/NAME).")


def main(_):
  import jax  # pylint: disable=import-outside-toplevel

  from fsgen import train  # pylint: disable=import-outside-toplevel

  config = _CONFIG.value
  if config is None:
    sys.exit(f"error: --config is required; available: {', '.join(configs.available())}")
  workdir = _WORKDIR.value or str(pathlib.Path("runs") / NAME)
  logging.info("JAX %s, devices: %s", jax.__version__, jax.devices())
  logging.info("config:\n%s", json.dumps(json.loads(config.to_json_best_effort()), indent=1))
  result = train.train_and_evaluate(config, workdir)
  print(
    f"done: {result.step} steps in {result.seconds:.0f} s; samples in {workdir}/samples, export in {workdir}/export"
  )


if __name__ == "__main__":
  logging.set_verbosity(logging.INFO)
  app.run(main, argv=argv)
