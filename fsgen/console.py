"""Console and log file: fsgen's own lines and the progress bar on the console; every line in WORKDIR/log.txt.

Orbax logs several INFO lines per checkpoint save (about 200 in one quickstart) through absl logging, as do
JAX and TensorStore. `quiet_console()` (the launcher calls it unless --verbose) lets INFO lines reach the
console only from fsgen's code and the folders the caller names (the launcher names its own); warnings and
errors from anywhere still show.
`log_file(workdir)` copies every record, whatever its source, to WORKDIR/log.txt (process i > 0 of a
multi-host run: log.process_<i>.txt) for as long as a run lasts. `FILE` is a logger whose lines go to the
log file only (the resolved config, per-start details).
"""

from __future__ import annotations

import contextlib
import logging
import pathlib

from absl import logging as absl_logging

FILE = logging.getLogger("fsgen.log_file")
_FILE_ONLY = FILE.name
_LIBRARY = pathlib.Path(__file__).resolve().parent


class _ConsoleFilter(logging.Filter):
  def __init__(self, roots=()):
    super().__init__()
    self.roots = (_LIBRARY, *(pathlib.Path(r).resolve() for r in roots))

  def filter(self, record: logging.LogRecord) -> bool:
    if record.name == _FILE_ONLY:
      return False
    if record.levelno >= logging.WARNING:
      return True
    path = pathlib.Path(record.pathname).resolve()
    return any(root in path.parents for root in self.roots)


class _FileOnlyFilter(logging.Filter):
  """Keeps FILE's records off every handler but the log file's (absl's handler sits on the root logger)."""

  def filter(self, record: logging.LogRecord) -> bool:
    return record.name != _FILE_ONLY


def quiet_console(*roots: str | pathlib.Path) -> None:
  """INFO lines on the console from fsgen and from code under `roots` only (idempotent)."""
  handler = absl_logging.get_absl_handler()
  if not any(isinstance(f, _ConsoleFilter) for f in handler.filters):
    handler.addFilter(_ConsoleFilter(roots))


def _keep_file_lines_off_the_console() -> None:
  handler = absl_logging.get_absl_handler()
  if not any(isinstance(f, (_ConsoleFilter, _FileOnlyFilter)) for f in handler.filters):
    handler.addFilter(_FileOnlyFilter())


@contextlib.contextmanager
def log_file(workdir: str | pathlib.Path, process_index: int = 0):
  """Copies every log record (INFO and up) to WORKDIR/log.txt while the block runs."""
  name = "log.txt" if process_index == 0 else f"log.process_{process_index}.txt"
  path = pathlib.Path(workdir) / name
  path.parent.mkdir(parents=True, exist_ok=True)
  handler = logging.FileHandler(path, encoding="utf-8")
  handler.setLevel(logging.INFO)
  handler.setFormatter(logging.Formatter("%(asctime)s %(levelname).1s %(name)s %(filename)s:%(lineno)d] %(message)s"))
  root = logging.getLogger()
  _keep_file_lines_off_the_console()
  FILE.setLevel(logging.INFO)
  previous = root.level
  if root.level > logging.INFO or root.level == logging.NOTSET:
    root.setLevel(logging.INFO)
  root.addHandler(handler)
  try:
    yield path
  finally:
    root.removeHandler(handler)
    root.setLevel(previous)
    handler.close()
