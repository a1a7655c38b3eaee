"""Test set-up: paths to ../shared/data, tiny configs, and one process-wide JAX with 4 CPU devices.

Four simulated CPU devices are configured before JAX initialises so multi-device tests can run in the
same process; training tests pin config.devices=1 unless they compare device counts.
"""

import os
import pathlib
import sys
import tempfile

os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=4").strip()
# XLA:CPU compilation dominates the suite: share compiled programs across tests (and the subprocesses they
# start, which inherit the environment) through a persistent cache, and skip most XLA optimisations.
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", os.path.join(tempfile.gettempdir(), "fsgen-test-jax-cache"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.2")
os.environ.setdefault("JAX_DISABLE_MOST_OPTIMIZATIONS", "1")

import pytest  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED_DATA = ROOT.parent / "shared" / "data"


def shared_path(*parts) -> pathlib.Path:
  """A path under ../shared/data, or skip the test with the reason when it is absent."""
  path = SHARED_DATA.joinpath(*parts)
  if not path.exists():
    pytest.skip(f"{path} is absent (the shared datasets are not beside this checkout)")
  return path
