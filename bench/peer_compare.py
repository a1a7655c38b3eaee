"""fsgen's training steps side by side with eager PyTorch peers: `python bench/step_speed.py --vs-peer`.

  python bench/step_speed.py --vs-peer [--peer-rows gan32,gan64,mixdl64,mixdl64_plain,maml2,maml1]
                             [--pairs 3] [--steps 16] [--peer-form subpixel]

Each row runs fsgen's step (bench/step_speed.py --row, or bench/maml_speed.py for MAML) and its peer
(bench/peers/run.py) alternately, each in its own fresh process: A B A B ... for `pairs` pairs, so both
see the same machine load over time. Per pair it prints both ms/step and the speed-up peer / fsgen (> 1:
fsgen is faster); the closing line gives the median of each over the pairs. The load average and the
busiest other processes are printed before and after, since the machine is shared.

Rows (batch 64 and width 64 for gan; the light StyleGAN2 of the mixdl_*_cpu presets at 64 px, batch 4):
  gan32, gan64         the `gan` step at 32 / 64 px (peer: bench/peers/gan.py, --peer-form subpixel is the
                       same nets; convtranspose is DCGAN's own up-sampling)
  mixdl64, mixdl64_plain  the MixDL step with / without MixDL (peer: bench/peers/mixdl.py)
  maml2, maml1         the MAML meta-iteration, second / first order (peer: bench/peers/maml.py)
"""

from __future__ import annotations

import json
import os
import pathlib
import statistics
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
PY = sys.executable


def _rows(steps: int, form: str) -> dict[str, tuple[str, list[str], list[str]]]:
  """name -> (title, fsgen command, peer command)."""
  step_speed = [PY, str(ROOT / "bench" / "step_speed.py"), f"--steps={steps}"]
  peer = [PY, str(ROOT / "bench" / "peers" / "run.py"), f"--steps={steps}"]
  rows = {}
  for res in (32, 64):
    rows[f"gan{res}"] = (
      f"gan {res} px",
      step_speed + [f"--row=gan,dcgan,{res},0", "--batch=64", "--width=64"],
      peer + ["--peer=gan", "--kw", json.dumps({"res": res, "batch": 64, "width": 64, "form": form})],
    )
  for name, on in (("mixdl64", 1), ("mixdl64_plain", 0)):
    rows[name] = (
      f"mixdl light 64 px {'with' if on else 'without'} MixDL",
      step_speed + [f"--row=mixdl,stylegan2,64,{on}", "--size=cpu"],
      peer + ["--peer=mixdl", "--kw", json.dumps({"res": 64, "mixdl": bool(on)})],
    )
  for order in (2, 1):
    rows[f"maml{order}"] = (
      f"MAML meta-iteration, {'second' if order == 2 else 'first'} order",
      [PY, str(ROOT / "bench" / "maml_speed.py"), f"--steps={steps}", f"--order={order}"],
      peer + ["--peer=maml", "--kw", json.dumps({"order": order})],
    )
  return rows


def _run(cmd: list[str]) -> dict | str:
  env = {**os.environ, "PYTHONPATH": str(ROOT)}
  out = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env, cwd=ROOT)
  if out.returncode:
    return "failed: " + ((out.stderr.strip().splitlines() or ["?"])[-1])[:160]
  return json.loads(out.stdout.strip().splitlines()[-1])


def machine_load() -> str:
  """The load average and the three busiest processes other than this comparison's."""
  load = pathlib.Path("/proc/loadavg").read_text().split()[:3]
  ps = subprocess.run(["ps", "-eo", "pcpu,args", "--sort=-pcpu"], capture_output=True, text=True, check=False)
  mine = str(ROOT / "bench")
  busy = [line.strip()[:90] for line in ps.stdout.splitlines()[1:] if mine not in line and "ps -eo" not in line][:3]
  return f"load average {' '.join(load)}; busiest: " + " | ".join(busy)


def main(row_names: str, pairs: int, steps: int, form: str) -> None:
  rows = _rows(steps, form)
  names = [n for n in row_names.split(",") if n]
  unknown = [n for n in names if n not in rows]
  if unknown:
    sys.exit(f"error: unknown --peer-rows entry {unknown[0]!r} (known: {', '.join(rows)})")
  print(f"fsgen vs eager PyTorch, {pairs} alternating pairs, {steps} timed steps each, peer form {form}")
  print("before:", machine_load(), flush=True)
  print(f"{'row':<42}{'pair':>5}{'fsgen ms':>10}{'peer ms':>10}{'peer/fsgen':>12}{'fsgen compile s':>17}")
  for name in names:
    title, ours, theirs = rows[name]
    mine, peer = [], []
    for i in range(pairs):
      a, b = _run(ours), _run(theirs)
      if isinstance(a, str) or isinstance(b, str):
        status = lambda r: r if isinstance(r, str) else "ok"
        print(f"{title:<42}{i + 1:>5}  fsgen {status(a)}; peer {status(b)}")
        continue
      mine.append(a["ms_per_step"])
      peer.append(b["ms_per_step"])
      ratio = b["ms_per_step"] / a["ms_per_step"]
      times = f"{a['ms_per_step']:>10.1f}{b['ms_per_step']:>10.1f}{ratio:>12.2f}{a['compile_s']:>17.1f}"
      print(f"{title:<42}{i + 1:>5}{times}", flush=True)
    if mine:
      m, p = statistics.median(mine), statistics.median(peer)
      ratios = [q / f for f, q in zip(mine, peer)]
      spread = f"(ratio range {min(ratios):.2f}-{max(ratios):.2f})"
      print(f"{title:<42}{'med':>5}{m:>10.1f}{p:>10.1f}{p / m:>12.2f}   {spread}", flush=True)
  print("after:", machine_load())
