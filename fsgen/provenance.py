"""What produced a run: WORKDIR/provenance.json, one entry per start (a resume may run other code).

Each entry: time, command line, host, fsgen version and, when fsgen is imported from a git checkout, the
commit and whether the tree had uncommitted changes; Python and the versions of the packages that decide
the numbers (jax, jaxlib, flax, optax, orbax-checkpoint, numpy, ...); the devices of the mesh and the
process count.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import pathlib
import platform
import socket
import subprocess
import sys
import time

import jax

import fsgen

PACKAGES = (
  "jax",
  "jaxlib",
  "flax",
  "optax",
  "orbax-checkpoint",
  "chex",
  "numpy",
  "scipy",
  "ml-collections",
  "tensorflow-datasets",
  "tensorboardX",
  "pillow",
)


def _git(*args: str) -> str | None:
  root = pathlib.Path(fsgen.__file__).resolve().parent  # git finds the checkout (if any) holding the package
  try:
    out = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10, check=True)
  except (OSError, subprocess.SubprocessError):
    return None
  return out.stdout.strip()


def _version(name: str) -> str | None:
  try:
    return importlib.metadata.version(name)
  except importlib.metadata.PackageNotFoundError:
    return None


def describe(mesh=None) -> dict:
  """This process's provenance entry (see the module doc)."""
  commit = _git("rev-parse", "HEAD")
  devices = list(mesh.devices.flat) if mesh is not None else jax.devices()
  return {
    "time": time.strftime("%Y-%m-%d %H:%M:%S %z"),
    "argv": sys.argv,
    "host": socket.gethostname(),
    "pid": os.getpid(),
    "fsgen": fsgen.__version__,
    "git_commit": commit,
    "git_dirty": bool(_git("status", "--porcelain", "--untracked-files=no")) if commit else None,
    "python": platform.python_version(),
    "platform": platform.platform(),
    "packages": {name: _version(name) for name in PACKAGES},
    "devices": {
      "platform": devices[0].platform,
      "kind": devices[0].device_kind,
      "count": len(devices),
      "processes": jax.process_count(),
    },
  }


def record(workdir: str | pathlib.Path, mesh=None) -> dict:
  """Appends this start's entry to WORKDIR/provenance.json ({"runs": [...]}) and returns it."""
  path = pathlib.Path(workdir) / "provenance.json"
  runs = []
  if path.exists():
    try:
      runs = json.loads(path.read_text()).get("runs", [])
    except (ValueError, AttributeError):
      runs = []
  entry = describe(mesh)
  tmp = path.with_suffix(".json.tmp")
  tmp.write_text(json.dumps({"runs": [*runs, entry]}, indent=1))
  os.replace(tmp, path)
  return entry
