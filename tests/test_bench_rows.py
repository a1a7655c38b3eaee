"""The benchmark launchers hand each row's process an argument it accepts (no row fails before it runs)."""

import pytest

from bench import peer_compare, step_speed


def test_every_peer_row_passes_step_speed_a_row_it_parses():
  rows = peer_compare._rows(steps=4, form="subpixel")
  parsed = 0
  for _, fsgen_cmd, _ in rows.values():
    for arg in fsgen_cmd:
      if arg.startswith("--row="):
        kind, _, res, _, dtype = step_speed.parse_row(arg.removeprefix("--row="))
        assert kind in ("gan", "mixdl") and res in (32, 64) and dtype == "float32"
        parsed += 1
  assert parsed == 4  # gan32, gan64, mixdl64, mixdl64_plain (the MAML rows run bench/maml_speed.py)


def test_a_malformed_row_names_itself():
  with pytest.raises(SystemExit, match="gan,dcgan"):
    step_speed.parse_row("gan,dcgan")
