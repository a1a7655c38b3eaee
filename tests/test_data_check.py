"""fsgen.data.check: every unreadable file listed, what the preset sees, exit status."""

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from fsgen.data import check

from conftest import ROOT


def _folder(tmp_path, good=5, bad=2):
  for i in range(good):
    Image.fromarray(np.full((20 + i, 24, 3), 40 * i, np.uint8)).save(tmp_path / f"img{i}.png")
  for i in range(bad):
    (tmp_path / f"broken{i}.jpg").write_bytes(b"not a jpeg")
  return tmp_path


def test_lists_every_unreadable_file_and_refuses(tmp_path):
  report = check.check({"source": f"folder:{_folder(tmp_path)}", "resolution": 16, "channels": 3})
  assert report.files == 7 and not report.ok
  assert sorted(u.split(" ")[0].rsplit("/", 1)[-1] for u in report.unreadable) == ["broken0.jpg", "broken1.jpg"]
  assert report.prepared is None


def test_reports_what_the_preset_sees(tmp_path):
  report = check.check({"source": f"folder:{_folder(tmp_path, bad=0)}", "resolution": 32, "channels": 1, "shots": 3})
  assert report.ok and report.prepared == (3, 32, 32, 1)
  assert report.upscaled == 5  # every native image is below 32 px on its shorter side
  assert sum(report.sizes.values()) == 5 and report.channels == {3: 5}


def test_missing_folder_is_one_line_error(tmp_path):
  report = check.check({"source": f"folder:{tmp_path / 'nope'}", "resolution": 16})
  assert not report.ok and "does not exist" in report.error


@pytest.mark.parametrize("args, rc", [(["--config=quickstart"], 0), (["--config=mixdl_ffhq10"], 1)])
def test_preset_command(args, rc):
  r = subprocess.run(
    [sys.executable, str(ROOT / "experiments" / "check_data.py"), *args], capture_output=True, text=True, timeout=120
  )
  assert r.returncode == rc, r.stderr
  assert ("OK" if rc == 0 else "NOT OK") in r.stdout.splitlines()[-1]
