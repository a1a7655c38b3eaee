"""What fsgen sees: `python -m fsgen.devices` prints the JAX version, backend, devices and processes.

Run it after installing for an accelerator (README, "Installing for CPU, GPU, TPU and Colab"): a CUDA
install must list `cuda` devices, a TPU VM `tpu` devices; otherwise JAX fell back to the CPU.
"""

from __future__ import annotations

import sys


def describe() -> dict:
  """{jax, jaxlib, backend, devices: [str], local_devices, processes, process_index}."""
  import jax  # pylint: disable=import-outside-toplevel
  import jaxlib  # pylint: disable=import-outside-toplevel

  return {
    "jax": jax.__version__,
    "jaxlib": jaxlib.__version__,
    "backend": jax.default_backend(),
    "devices": [f"{d.platform}:{d.id} {getattr(d, 'device_kind', '')}".strip() for d in jax.devices()],
    "local_devices": jax.local_device_count(),
    "processes": jax.process_count(),
    "process_index": jax.process_index(),
  }


def main() -> None:
  info = describe()
  print(f"JAX {info['jax']} (jaxlib {info['jaxlib']}), backend {info['backend']}")
  print(
    f"{len(info['devices'])} device(s), {info['local_devices']} local, process {info['process_index']} of "
    f"{info['processes']}:"
  )
  for d in info["devices"]:
    print(f"  {d}")
  if info["backend"] == "cpu":
    print(
      "no accelerator found: fsgen runs on the CPU (see the README for the CUDA and TPU install lines)", file=sys.stderr
    )


if __name__ == "__main__":
  main()
