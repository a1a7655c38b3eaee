"""A workdir holds one run: an exclusive lock while a process trains in it, and the config it was trained with.

  WORKDIR/lock          {"pid", "host", "started"} of the process holding the lock (flock on the open file)
  WORKDIR/config.json   the resolved config, written once training can start (after config and data checks)

The lock is an advisory `fcntl.flock` on WORKDIR/lock: the kernel releases it when its process ends, however
it ends (SIGKILL included), so a lock left by a dead process never blocks; a live holder makes a second run
fail with one line naming its pid and host. The file is not deleted at release (deleting would let two
processes lock two different files). On a filesystem without flock the pid recorded in the file is checked
instead (same host: is that process alive?).
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import pathlib
import socket
import time

# Config keys that may change between a run and its resumption (everything else must match).
RESUMABLE_CHANGES = (
  "total_steps",
  "total_epochs",
  "log_every",
  "log_every_epochs",
  "sample_every",
  "sample_every_epochs",
  "ckpt_every",
  "ckpt_every_epochs",
  "keep_ckpts",
  "progress",
  "evals",
  "devices",
  "distributed",
  "max_param_norm",
  "max_grad_norm",
)


class WorkdirError(ValueError):
  """The workdir cannot take this run (in use, or holding a run with another config); one line."""


class Lock:
  """Exclusive lock on a workdir for this process; `with Lock(workdir):` or acquire()/release()."""

  def __init__(self, workdir: str | pathlib.Path):
    self.path = pathlib.Path(workdir) / "lock"
    self._fd: int | None = None

  def acquire(self) -> Lock:
    self.path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
      fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      os.close(fd)
      raise WorkdirError(self._busy_message(self._holder())) from None
    except OSError as e:  # no flock on this filesystem: fall back to the recorded pid
      if e.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EINVAL):
        raise
      holder = self._holder()
      if holder and holder.get("host") == socket.gethostname() and _alive(holder.get("pid", -1)):
        os.close(fd)
        raise WorkdirError(self._busy_message(holder)) from None
    os.ftruncate(fd, 0)
    record = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    os.write(fd, json.dumps(record).encode())
    os.fsync(fd)
    self._fd = fd
    return self

  def release(self) -> None:
    if self._fd is not None:
      os.ftruncate(self._fd, 0)
      fcntl.flock(self._fd, fcntl.LOCK_UN)
      os.close(self._fd)
      self._fd = None

  def __enter__(self) -> Lock:
    return self.acquire()

  def __exit__(self, *exc) -> None:
    self.release()

  def _holder(self) -> dict:
    try:
      return json.loads(self.path.read_text() or "{}")
    except (OSError, ValueError):
      return {}

  def _busy_message(self, holder: dict) -> str:
    who = f"process {holder.get('pid', '?')} on {holder.get('host', '?')} (since {holder.get('started', '?')})"
    return f"workdir {self.path.parent} is in use by {who}; wait for it to finish or use another --workdir"


def _alive(pid: int) -> bool:
  try:
    os.kill(int(pid), 0)
  except ProcessLookupError:
    return False
  except (PermissionError, ValueError, TypeError):
    return True
  return True


def check_config(workdir: pathlib.Path, config_dict: dict) -> None:
  """Refuses to resume a workdir whose checkpoints were trained with a different config (nothing is
  overwritten). Call it only when the workdir holds a checkpoint: without one there is nothing to protect."""
  path = pathlib.Path(workdir) / "config.json"
  if not path.exists():
    return
  old = json.loads(path.read_text())
  differ = sorted(
    k for k in set(old) | set(config_dict) if k not in RESUMABLE_CHANGES and old.get(k) != config_dict.get(k)
  )
  if differ:
    raise WorkdirError(
      f"workdir {workdir} holds checkpoints of a run with a different config (keys: {', '.join(differ)}); "
      f"use another --workdir or the same config"
    )


def write_config(workdir: pathlib.Path, config_dict: dict) -> None:
  """Writes WORKDIR/config.json atomically (a crash never leaves half a file)."""
  path = pathlib.Path(workdir) / "config.json"
  tmp = path.with_suffix(".json.tmp")
  tmp.write_text(json.dumps(config_dict, indent=1))
  os.replace(tmp, path)
