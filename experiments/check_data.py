"""Checks the data a preset will train on, before any training: python experiments/check_data.py --config=NAME[:arg]

Prints the preset's "Data:" note (what it expects), then fsgen.data.check's report on its config.data:
images found, native sizes and channels, what the preset will see after subset and preprocessing, and
every unreadable file. Exit status 1 if the data is not usable as configured. --config.data.KEY=VALUE
overrides (e.g. --config.data.source=folder:/my/images) work as in experiments/run.py.
"""

import argparse
import pathlib
import re
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # run from a plain checkout too

import ml_collections  # noqa: E402

from experiments import configs  # noqa: E402
from fsgen.data import check  # noqa: E402


def data_note(spec: str) -> str:
  """The 'Data:' paragraph of a preset's docstring (the dataset it expects), or ''."""
  path = configs.resolve(spec).partition(":")[0]
  text = pathlib.Path(path).read_text()
  m = re.search(r"^Data:\s+(.*?)(?=^\w[\w ]*:\s|\"\"\")", text, re.S | re.M)
  return " ".join(m.group(1).split()) if m else ""


def main(argv=None) -> None:
  p = argparse.ArgumentParser(prog="python experiments/check_data.py", description=__doc__.splitlines()[0])
  p.add_argument("--config", required=True, help="preset NAME[:arg] or path.py[:arg]")
  a, rest = p.parse_known_args(argv)
  try:
    config = configs.load(a.config)
    for item in rest:
      key, eq, value = item.removeprefix("--config.").partition("=")
      if not item.startswith("--config.data.") or not eq:
        raise ValueError(f"unknown argument {item!r} (only --config.data.KEY=VALUE overrides)")
      field = key.removeprefix("data.")
      if field not in config.data:
        raise ValueError(f"config.data has no key {field!r}")
      old = config.data[field]
      config.data[field] = type(old)(value) if not isinstance(old, bool) else value.lower() in ("1", "true", "yes")
  except (ValueError, FileNotFoundError) as e:
    sys.exit(f"error: {e}")
  note = data_note(a.config)
  if note:
    print(f"preset expects: {note}")
  report = check.check(ml_collections.ConfigDict(config.data).to_dict())
  print("\n".join(report.lines()))
  sys.exit(0 if report.ok else 1)


if __name__ == "__main__":
  main()
