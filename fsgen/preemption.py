"""Preemption: SIGTERM asks the loop to save a checkpoint at the next step boundary and stop.

A preempted TPU/GPU VM (or a cluster scheduler, or `kill PID`) sends SIGTERM some seconds before the
machine goes away. `Watch.reached(step)` is asked once per step: True at the first step boundary after the
signal, when the loop saves, waits for the save and raises `Preempted` (the launcher prints one line and
exits with 143 = 128 + SIGTERM, so a supervisor knows the run did not finish; the same command resumes).

One process: a Python SIGTERM handler sets a flag (the previous handler is restored at close; a second
SIGTERM while stopping gets the default action). Several processes (jax.distributed): JAX's preemption sync
manager catches SIGTERM on any host and agrees on one step for all of them
(`multihost_utils.reached_preemption_sync_point`), so every host saves the same step.
"""

from __future__ import annotations

import signal
import threading

import jax
from jax.experimental import multihost_utils


class Preempted(Exception):  # noqa: N818  (a stop, not a fault)
  """The run stopped on SIGTERM after saving a checkpoint; re-running the same command resumes it."""


class Watch:
  def __init__(self):
    self.distributed = jax.process_count() > 1
    self._flag = False
    self._previous = None
    if not self.distributed and threading.current_thread() is threading.main_thread():
      self._previous = signal.signal(signal.SIGTERM, self._handle)

  def _handle(self, signum, frame) -> None:
    self._flag = True
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM stops at once

  def reached(self, step: int) -> bool:
    """True when a SIGTERM asks this run (all its processes, at the same step) to stop after `step`."""
    if self.distributed:
      return multihost_utils.reached_preemption_sync_point(step)
    return self._flag

  def close(self) -> None:
    if self._previous is not None:
      signal.signal(signal.SIGTERM, self._previous)
      self._previous = None

  def __enter__(self) -> Watch:
    return self

  def __exit__(self, *exc) -> None:
    self.close()
