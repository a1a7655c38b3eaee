"""Test set-up: paths to ../shared/data, tiny configs, and one process-wide JAX with 4 CPU devices.

Four simulated CPU devices are configured before JAX initialises so multi-device tests can run in the
same process; training tests pin config.devices=1 unless they compare device counts.
"""

import os
import pathlib
import sys

os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=4").strip()

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
