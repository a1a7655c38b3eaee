"""Metric logging: WORKDIR/metrics.jsonl (one JSON object per logged step) and TensorBoard events.

A resumed run replays the steps after its checkpoint, so `MetricWriter(workdir, resume_step=S)` first drops
every row and TensorBoard event past step S that an earlier process wrote (a run killed at step 57 after
checkpointing step 40 leaves rows 41-57): each step appears once in the logs, written by the process that
produced the state it describes. A torn last line (SIGKILL mid-write) is dropped too. Only the process
that writes (process 0 of a multi-host run) is `enabled`; the others' writers do nothing.
"""

from __future__ import annotations

import json
import os
import pathlib
import struct

import numpy as np


class MetricWriter:
  def __init__(self, workdir: str | pathlib.Path, tensorboard: bool = True, resume_step: int = 0, enabled: bool = True):
    self.workdir = pathlib.Path(workdir)
    self.enabled = enabled
    self._jsonl = self._tb = None
    if not enabled:
      return
    self.workdir.mkdir(parents=True, exist_ok=True)
    drop_rows_after(self.workdir / "metrics.jsonl", resume_step)
    for events in sorted((self.workdir / "tensorboard").glob("events.out.tfevents.*")):
      drop_events_after(events, resume_step)
    self._jsonl = open(self.workdir / "metrics.jsonl", "a", encoding="utf-8")
    if tensorboard:
      from tensorboardX import SummaryWriter  # pylint: disable=import-outside-toplevel

      self._tb = SummaryWriter(str(self.workdir / "tensorboard"))

  def scalars(self, step: int, values: dict[str, float]) -> None:
    if not self.enabled:
      return
    values = {k: float(v) for k, v in values.items()}
    self._jsonl.write(json.dumps({"step": step, **values}) + "\n")
    self._jsonl.flush()
    if self._tb is not None:
      for k, v in values.items():
        self._tb.add_scalar(k, v, step)

  def image(self, step: int, name: str, grid: np.ndarray) -> None:
    """grid: uint8 [H, W, C]."""
    if self._tb is not None:
      self._tb.add_image(name, grid, step, dataformats="HWC")

  def close(self) -> None:
    if self._jsonl is not None:
      self._jsonl.close()
    if self._tb is not None:
      self._tb.close()


def _replace(path: pathlib.Path, data: bytes) -> None:
  tmp = path.with_name(path.name + ".tmp")
  tmp.write_bytes(data)
  os.replace(tmp, path)


def drop_rows_after(path: pathlib.Path, step: int) -> int:
  """Keeps the rows of a metrics.jsonl with "step" <= `step` (and drops unparsable ones); returns how many
  were dropped."""
  if not path.exists():
    return 0
  kept, dropped = [], 0
  for line in path.read_text(encoding="utf-8").splitlines():
    try:
      row = json.loads(line)
      ok = int(row["step"]) <= step
    except (ValueError, KeyError, TypeError):
      ok = False
    if ok:
      kept.append(line)
    else:
      dropped += 1
  if dropped:
    _replace(path, "".join(l + "\n" for l in kept).encode())
  return dropped


def read_records(path: pathlib.Path) -> list[bytes]:
  """The payloads of a TFRecord file (TensorBoard's event file format); a torn last record is dropped."""
  data, out, i = path.read_bytes(), [], 0
  while i + 12 <= len(data):
    (length,) = struct.unpack("<Q", data[i : i + 8])
    end = i + 12 + length + 4
    if end > len(data):
      break
    out.append(data[i + 12 : i + 12 + length])
    i = end
  return out


def drop_events_after(path: pathlib.Path, step: int) -> int:
  """Rewrites a TensorBoard event file without the summaries of steps > `step`; returns how many went."""
  from tensorboardX.proto.event_pb2 import Event  # pylint: disable=import-outside-toplevel
  from tensorboardX.record_writer import masked_crc32c  # pylint: disable=import-outside-toplevel

  records = read_records(path)
  torn = sum(16 + len(r) for r in records) != path.stat().st_size
  kept = []
  for payload in records:
    event = Event.FromString(payload)
    if event.HasField("summary") and event.step > step:
      continue
    kept.append(payload)
  if len(kept) < len(records) or torn:
    out = bytearray()
    for payload in kept:
      header = struct.pack("<Q", len(payload))
      out += header + struct.pack("<I", masked_crc32c(header)) + payload + struct.pack("<I", masked_crc32c(payload))
    _replace(path, bytes(out))
  return len(records) - len(kept)
