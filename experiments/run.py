"""Trains a preset: python experiments/run.py --config=NAME[:arg] [--workdir=DIR] [--config.key=value ...]

--config=NAME resolves to experiments/configs/NAME.py (an unknown NAME lists the available ones);
--config=path/to/file.py[:arg] also works; --config.a.b=value overrides a key (an unknown key is an error);
--config.evals.NAME=None (or ={}) turns an evaluator off, --config.evals={} all of them.
The workdir defaults to runs/NAME; re-running the same command resumes from its last intact checkpoint.

Expected errors (bad config or data, a busy or mismatched workdir, no intact checkpoint, a non-finite or
diverging run) print one line `error: ...` and exit with status 1; --debug or FSGEN_DEBUG=1 shows the
traceback. SIGTERM saves a checkpoint at the next step and exits with status 143.
JAX's persistent compilation cache is on (--compile_cache_dir, default $JAX_COMPILATION_CACHE_DIR or
~/.cache/fsgen/jax; --nocompile_cache turns it off), so a second start skips most compilation.
"""

import os
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a plain checkout too

from absl import app, flags, logging  # noqa: E402
from ml_collections import config_flags  # noqa: E402

from experiments import configs  # noqa: E402

# Errors fsgen raises on purpose for bad input; raised elsewhere (inside JAX, say), they are bugs and keep
# their traceback.
EXPECTED = (ValueError, FileNotFoundError, NotADirectoryError, PermissionError, FloatingPointError)
_OFF = ("None", "none", "off", "{}")


def _rewrite_args(argv: list[str]) -> tuple[list[str], str, str | None]:
  """Rewrites --config=NAME[:arg] to the preset's path and --config.evals[.NAME]=None to ={} before absl
  parses flags; returns (argv, NAME, the --config value)."""
  out, name, spec = [], "run", None
  for i, a in enumerate(argv):
    value = None
    if a.startswith("--config="):
      value = a.split("=", 1)[1]
    elif a == "--config" and i + 1 < len(argv):
      continue  # handled with the next item
    elif i > 0 and argv[i - 1] == "--config":
      value = a
    if value is None:
      key, sep, v = a.partition("=")
      if sep and (key == "--config.evals" or key.startswith("--config.evals.") and key.count(".") == 2) and v in _OFF:
        a = f"{key}={{}}"  # ml_collections parses a dict field from a dict literal only
      out.append(a)
      continue
    try:
      resolved = configs.resolve(value)
    except (ValueError, FileNotFoundError) as e:
      sys.exit(f"error: {e}")
    name, spec = pathlib.Path(value.partition(":")[0]).stem, value
    out.append(f"--config={resolved}")
  return out, name, spec


argv, NAME, SPEC = _rewrite_args(sys.argv)
_CONFIG = config_flags.DEFINE_config_file("config", None, "Preset name or path.py[:arg].", lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Output directory (default runs/NAME).")
_VERBOSE = flags.DEFINE_bool("verbose", False, "Show every library's INFO lines (Orbax, JAX) on the console too.")
_DEBUG = flags.DEFINE_bool("debug", False, "Show the traceback of expected errors (also FSGEN_DEBUG=1).")
_CACHE = flags.DEFINE_bool("compile_cache", True, "Use JAX's persistent compilation cache.")
_CACHE_DIR = flags.DEFINE_string(
  "compile_cache_dir",
  os.environ.get("JAX_COMPILATION_CACHE_DIR") or str(pathlib.Path.home() / ".cache" / "fsgen" / "jax"),
  "Where the compilation cache lives.",
)


def _unknown_override(args: list[str]) -> str | None:
  """The first --config.a.b=... whose key the preset lacks, as a one-line message (None if all exist)."""
  if SPEC is None:
    return None
  try:
    config = configs.load(SPEC)
  except Exception:  # noqa: BLE001  (the preset itself fails: let the original error speak)
    return None
  for a in args:
    if not a.startswith("--config."):
      continue
    path = a[len("--config.") :].partition("=")[0]
    node = config
    for i, part in enumerate(path.split(".")):
      if not hasattr(node, "keys") or part not in node.keys():
        where = ".".join(path.split(".")[:i]) or "the config"
        return f"{a}: unknown config key {'config.' + path!r} ({where} has no {part!r})"
      node = node[part]
  return None


def _parse_flags(args: list[str]) -> list[str]:
  """absl's flag parsing with one-line errors (an unknown key raises deep inside ml_collections)."""
  try:
    return flags.FLAGS(args)
  except flags.Error as e:
    sys.exit(f"error: {e}")
  except (AttributeError, KeyError, TypeError, ValueError) as e:
    sys.exit(f"error: {_unknown_override(args[1:]) or e}")


def _ours(e: BaseException) -> bool:
  """True when the innermost frame that raised `e` is fsgen's or this checkout's code."""
  tb = e.__traceback__
  while tb is not None and tb.tb_next is not None:
    tb = tb.tb_next
  filename = pathlib.Path(tb.tb_frame.f_code.co_filename).resolve() if tb else None
  import fsgen  # pylint: disable=import-outside-toplevel

  package = pathlib.Path(fsgen.__file__).resolve().parent
  return filename is not None and (package in filename.parents or ROOT / "experiments" in filename.parents)


def main(args):
  if len(args) > 1:
    sys.exit(f"error: unexpected arguments {' '.join(args[1:])}")
  config = _CONFIG.value
  if config is None:
    sys.exit(f"error: --config is required; available: {', '.join(configs.available())}")
  workdir = _WORKDIR.value or str(pathlib.Path("runs") / NAME)
  debug = _DEBUG.value or os.environ.get("FSGEN_DEBUG", "") not in ("", "0")
  try:
    _run(config, workdir)
  except EXPECTED as e:
    if debug or not _ours(e):
      raise
    sys.exit(f"error: {(str(e).strip().splitlines() or [type(e).__name__])[0]}")


def _run(config, workdir: str) -> None:
  import jax  # pylint: disable=import-outside-toplevel

  from fsgen import console, parallel, preemption, train  # pylint: disable=import-outside-toplevel

  if not _VERBOSE.value:
    console.quiet_console(pathlib.Path(__file__).resolve().parent)  # every line still reaches WORKDIR/log.txt

  if _CACHE.value:
    jax.config.update("jax_compilation_cache_dir", str(pathlib.Path(_CACHE_DIR.value).expanduser()))
  parallel.maybe_initialize_distributed(config.get("distributed", False))  # before anything touches a device
  logging.info("JAX %s, devices: %s", jax.__version__, jax.devices())
  try:
    result = train.train_and_evaluate(config, workdir)
  except preemption.Preempted as e:
    print(f"preempted: {e}", file=sys.stderr)
    sys.exit(143)
  if jax.process_index() == 0:
    print(
      f"done: {result.step} steps in {result.seconds:.0f} s; samples in {workdir}/samples, export in {workdir}/export"
    )


if __name__ == "__main__":
  logging.set_verbosity(logging.INFO)
  app.run(main, argv=argv, flags_parser=_parse_flags)
