"""`imle`: plain IMLE (Li & Malik 2018) as the official AdaIMLE code runs it: Adaptive IMLE with the
adaptive test off, so every example is re-matched every `force_resample` epochs (fsgen.methods.adaptive_imle).
"""

from __future__ import annotations

from fsgen.methods import adaptive_imle


def default_config():
  c = adaptive_imle.default_config()
  c.method = "imle"
  c.imle.adaptive = False
  return c


class Method(adaptive_imle.Method):
  def __init__(self, config, info):
    if config.imle.adaptive:
      raise ValueError("config.method='imle' needs config.imle.adaptive=False (use method='adaptive_imle')")
    super().__init__(config, info)
