"""Metric logging: WORKDIR/metrics.jsonl (one JSON object per logged step) and TensorBoard events."""

from __future__ import annotations

import json
import pathlib

import numpy as np


class MetricWriter:
  def __init__(self, workdir: str | pathlib.Path, tensorboard: bool = True):
    self.workdir = pathlib.Path(workdir)
    self.workdir.mkdir(parents=True, exist_ok=True)
    self._jsonl = open(self.workdir / "metrics.jsonl", "a", encoding="utf-8")
    self._tb = None
    if tensorboard:
      from tensorboardX import SummaryWriter  # pylint: disable=import-outside-toplevel

      self._tb = SummaryWriter(str(self.workdir / "tensorboard"))

  def scalars(self, step: int, values: dict[str, float]) -> None:
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
    self._jsonl.close()
    if self._tb is not None:
      self._tb.close()
