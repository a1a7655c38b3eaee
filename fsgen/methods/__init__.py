"""One module per method; `build(config, info)` imports `fsgen.methods.<config.method>` and returns its Method."""

from __future__ import annotations

import importlib
import pkgutil

from fsgen.methods.base import Method, Phase


def available() -> list[str]:
  """Names of the modules here that define a `Method` (support modules such as mixdl_backbones do not)."""
  names = (m.name for m in pkgutil.iter_modules(__path__) if m.name != "base")
  return sorted(n for n in names if hasattr(importlib.import_module(f"fsgen.methods.{n}"), "Method"))


def build(config, info) -> Method:
  """The Method of `config.method`, built from the config and the data facts `info` (a DataInfo)."""
  name = config.method
  if name not in available():
    raise ValueError(f"unknown config.method {name!r} (available: {', '.join(available())})")
  return importlib.import_module(f"fsgen.methods.{name}").Method(config, info)


__all__ = ["Method", "Phase", "available", "build"]
