"""Where a training step's time goes: the XLA:CPU profile of each phase, attributed to layers and ops.

  python bench/profile_step.py --gan 32               # the `gan` step, batch 64, width 64 (step_speed's row)
  python bench/profile_step.py --config mixdl_panda10_cpu --set data.resolution=64 [--calls 5] [--top 25]

Each phase of the method is compiled, run once, then called `calls` times under jax.profiler; every
executed HLO op of the trace (XLA:CPU records one event per thunk) is matched to its instruction in the
compiled HLO, whose metadata names the JAX op, the Flax module path and the source line. The time is then
summed by
  pass       forward, or backward (the op_name holds `transpose(`, JAX's mark of reverse-mode ops);
  part       the network layer (module path), DiffAugment, pixel norm, Adam (optax), EMA, loss,
             health check (the loop's isfinite), data draw, other;
  op         the HLO op kind (convolution, fusion kinds, gather, scatter, dynamic-slice, ...).
`host` is the wall time of a call minus the time at least one op ran (the union of op intervals):
dispatch, argument handling and host work between ops.
Times are per call (ms); ops may run concurrently on the 2 cores, so their sum can exceed the wall time.
"""

from __future__ import annotations

import argparse
import collections
import glob
import pathlib
import re
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

_INSTR = re.compile(r"^\s*(?:ROOT\s+)?%?([\w.\-]+) = \S+ ([\w\-]+)\((.*)$")
_MODULE = re.compile(r"(Generator|Discriminator|_\d)")
_COMP = re.compile(r"^(?:ENTRY )?%?([\w.\-]+) .*\{$")


def _tables(text: str) -> dict[str, dict[int, dict]]:
  """The FileNames / FunctionNames / FileLocations / StackFrames tables at the top of HLO text."""
  tables, current = {}, None
  for line in text.splitlines():
    if line in ("FileNames", "FunctionNames", "FileLocations", "StackFrames"):
      current = tables.setdefault(line, {})
      continue
    if current is None:
      continue
    if not line.strip() or line.startswith("%") or line.startswith("ENTRY"):
      current = None
      continue
    key, _, rest = line.partition(" ")
    if rest.startswith('"'):
      current[int(key)] = rest.strip('"')
    else:
      current[int(key)] = dict(kv.split("=") for kv in rest.strip("{}").split())
  return tables


def _stack_files(tables, frame_id: int) -> list[str]:
  """Source files of a stack frame and its parents, innermost first."""
  files, seen = [], set()
  frames, locs, names = (tables.get(k, {}) for k in ("StackFrames", "FileLocations", "FileNames"))
  while frame_id in frames and frame_id not in seen:
    seen.add(frame_id)
    loc = locs.get(int(frames[frame_id]["file_location_id"]), {})
    files.append(f"{names.get(int(loc.get('file_name_id', 0)), '?')}:{loc.get('line', '?')}")
    parent = int(frames[frame_id].get("parent_frame_id", 0))
    if parent == frame_id:
      break
    frame_id = parent
  return files


def hlo_ops(compiled_text: str) -> dict[str, dict]:
  """instruction name -> {"kind": opcode, "op_name": ..., "files": [source files, innermost first]}.

  A fusion without metadata takes that of the convolution / dot (else the root) it calls; an instruction
  still without takes that of its first user with one (XLA drops metadata on some rewritten ops, e.g. the
  weight-gradient convolution)."""
  tables = _tables(compiled_text)
  comps, current, order = {}, None, []
  for line in compiled_text.splitlines():
    m = _COMP.match(line)
    if m and not line.startswith(" "):
      current = comps.setdefault(m.group(1), [])
      continue
    m = _INSTR.match(line)
    if not m or current is None:
      continue
    name, kind, rest = m.groups()
    op = re.search(r'op_name="([^"]*)"', rest)
    frame = re.search(r"stack_frame_id=(\d+)", rest)
    calls = re.search(r"calls=%?([\w.\-]+)", rest)
    operands = re.findall(r"%([\w.\-]+)", rest.split("),")[0])
    info = {"kind": kind, "calls": calls.group(1) if calls else None, "operands": operands}
    if op:
      info["op_name"] = op.group(1)
      info["files"] = _stack_files(tables, int(frame.group(1))) if frame else []
    current.append((name, info))
    order.append((name, info))
  ops = {name: info for name, info in order}
  for _, info in order:  # weight-gradient convolutions lose their metadata: name them after their inputs
    inner = comps.get(info["calls"], [])
    if any(i["kind"] == "convolution" and "op_name" not in i for _, i in inner) and "op_name" not in info:
      frontier, seen = list(info["operands"]), set()
      for _depth in range(4):
        named = [ops[o] for o in frontier if o in ops and _MODULE.search(ops[o].get("op_name", ""))]
        named.sort(key=lambda i: "transpose(" not in i["op_name"])  # the cotangent side names the layer
        if named:
          path = re.sub(r"/[^/]*$", "", named[0]["op_name"])
          info["op_name"] = f"{path}/conv weight gradient (backward)"
          info["files"] = named[0].get("files", [])
          break
        seen.update(frontier)
        frontier = [o2 for o in frontier if o in ops for o2 in ops[o]["operands"] if o2 not in seen]
  for _, info in order:
    if "op_name" not in info and info["calls"] in comps:
      inner = comps[info["calls"]]
      best = [i for _, i in inner if "op_name" in i and i["kind"] in ("convolution", "dot")]
      best = best or [i for _, i in reversed(inner) if "op_name" in i]
      if best:
        info["op_name"], info["files"] = best[0]["op_name"], best[0]["files"]
  for _, info in order:
    if "op_name" in info and info["kind"] == "bitcast":
      for operand in info["operands"]:
        if operand in ops and "op_name" not in ops[operand]:
          ops[operand]["op_name"], ops[operand]["files"] = info["op_name"], info["files"]
  users = collections.defaultdict(list)
  for _, info in order:
    for operand in info["operands"]:
      users[operand].append(info)
  for name, info in order:
    if "op_name" not in info:
      known = [u for u in users[name] if "op_name" in u]
      if known:
        info["op_name"], info["files"] = known[0]["op_name"], known[0]["files"]
  return ops


def part_of(info: dict) -> str:
  """The part of the step an HLO instruction belongs to, from its op_name and source file."""
  op = info.get("op_name", "")
  src = next((f for f in info.get("files", []) if "fsgen/" in f or "optax" in f), "")
  if "diffaug" in src:
    return "DiffAugment"
  if "optax" in src:
    return "Adam (optax)"
  if "ema_update" in op or ("update.py" in src and "ema" in op):
    return "EMA"
  if "train.py" in src:
    return "loop (health, EMA, step)"
  if "layers.py" in src and "pixel_norm" in op:
    return "pixel norm"
  if "batches.py" in src or "preprocess.py" in src:
    return "data draw"
  if "losses" in src:
    return "loss"
  mods = re.findall(r"(Generator|Discriminator|[A-Z]\w*_\d+)", op)
  if mods:
    path = "/".join(m for m in mods if m not in ("Generator", "Discriminator"))
    net = "G" if "Generator" in op else "D" if "Discriminator" in op else ""
    if "layers.py" in src:
      return f"{net} pixel norm" if "rsqrt" in op or "pixel" in op else f"{net} {path}".strip()
    return f"{net} {path}".strip()
  if "layers.py" in src:
    return "pixel norm"
  return "other"


def profile_fn(fn, args, calls: int) -> tuple[list[tuple[str, float]], float, float]:
  """(per-event (hlo_op, ms), wall ms per call, busy ms per call) of `calls` calls of `fn`; busy = the
  union of the op intervals (time when at least one op ran)."""
  import jax  # pylint: disable=import-outside-toplevel
  from jax.profiler import ProfileData  # pylint: disable=import-outside-toplevel

  out = fn(*args)
  jax.block_until_ready(out)
  with tempfile.TemporaryDirectory() as d:
    jax.profiler.start_trace(d)
    t0 = time.perf_counter()
    for _ in range(calls):
      out = fn(*args)
      jax.block_until_ready(out)
    wall = (time.perf_counter() - t0) * 1000 / calls
    jax.profiler.stop_trace()
    data = ProfileData.from_file(sorted(glob.glob(f"{d}/**/*.xplane.pb", recursive=True))[-1])
  events, spans = [], []
  for plane in data.planes:
    for line in plane.lines:
      for e in line.events:
        stats = dict(e.stats)
        if "hlo_op" in stats:
          events.append((stats["hlo_op"], e.duration_ns / 1e6 / calls))
          spans.append((e.start_ns, e.start_ns + e.duration_ns))
  busy, end = 0.0, -1.0
  for lo, hi in sorted(spans):
    if hi > end:
      busy += hi - max(lo, end)
      end = hi
  return events, wall, busy / 1e6 / calls


def report(name: str, events, ops: dict, wall: float, busy: float, top: int) -> None:
  by_pass, by_part, by_kind, by_op = (collections.Counter() for _ in range(4))
  for hlo, ms in events:
    info = ops.get(hlo, {"kind": "?"})
    backward = "transpose(" in info.get("op_name", "") or "(backward)" in info.get("op_name", "")
    by_pass["backward" if backward else "forward"] += ms
    by_part[part_of(info)] += ms
    by_kind[info["kind"] if info["kind"] != "fusion" else hlo.rsplit(".", 1)[0]] += ms
    by_op[(hlo, info.get("op_name", "")[-90:])] += ms
  total = sum(by_pass.values())
  print(f"\n== phase {name}: wall {wall:.1f} ms/call, ops busy {busy:.1f}, ops sum {total:.1f}")
  print(f"   host (wall - busy): {wall - busy:.1f} ms")
  print("   pass: " + ", ".join(f"{k} {v:.1f} ms ({100 * v / total:.0f}%)" for k, v in by_pass.most_common()))
  for title, counter in (("part", by_part), ("op kind", by_kind)):
    print(f"   by {title}:")
    for k, v in counter.most_common(top):
      print(f"     {v:8.2f} ms {100 * v / total:5.1f}%  {k}")
  print("   top ops:")
  for (hlo, op), v in by_op.most_common(top):
    print(f"     {v:8.2f} ms {100 * v / total:5.1f}%  {hlo:<32} {op}")


def build(a):
  """(method, data dict) for --gan RES or --config NAME [--set key=value ...]."""
  import jax.numpy as jnp  # pylint: disable=import-outside-toplevel
  import numpy as np  # pylint: disable=import-outside-toplevel

  from fsgen.data.info import DataInfo  # pylint: disable=import-outside-toplevel

  if a.gan:
    from fsgen.methods import gan  # pylint: disable=import-outside-toplevel

    c = gan.default_config()
    c.data.resolution, c.data.channels, c.batch_size = a.gan, 3, 64
    c.model.G.width = c.model.D.width = 64
    images = np.random.default_rng(0).integers(0, 255, (100, a.gan, a.gan, 3), np.uint8)
    data = {"images": jnp.asarray(images)}
    return gan.Method(c, DataInfo.for_arrays(data, c.batch_size)), data
  from experiments import configs as presets  # pylint: disable=import-outside-toplevel
  from fsgen import data as fsdata  # pylint: disable=import-outside-toplevel
  from fsgen import methods  # pylint: disable=import-outside-toplevel

  c = presets.load(a.config)
  for item in a.set:
    key, _, value = item.partition("=")
    node, *path = [c] + key.split(".")[:-1]
    for p in path:
      node = node[p]
    leaf = key.split(".")[-1]
    node[leaf] = type(node[leaf])(value) if not isinstance(node[leaf], bool) else value == "True"
  dataset = fsdata.load(c.data)
  data = {"images": jnp.asarray(dataset.images)}
  if dataset.labels is not None:
    data["labels"] = jnp.asarray(dataset.labels)
  info = DataInfo.of(dataset, c.batch_size)
  return methods.build(c, info), data


def main():
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument("--gan", type=int, default=0, help="the gan step_speed row at this resolution")
  p.add_argument("--config", default="", help="a preset NAME[:arg]")
  p.add_argument("--set", action="append", default=[], help="preset override key=value (repeatable)")
  p.add_argument("--calls", type=int, default=5)
  p.add_argument("--top", type=int, default=20)
  a = p.parse_args()
  if bool(a.gan) == bool(a.config):
    sys.exit("error: give exactly one of --gan RES or --config NAME")
  import jax  # pylint: disable=import-outside-toplevel

  from fsgen import parallel  # pylint: disable=import-outside-toplevel
  from fsgen.train import PhaseRunner, initial_state  # pylint: disable=import-outside-toplevel

  method, data = build(a)
  mesh = parallel.make_mesh(1)
  repl = parallel.replicated(mesh)
  print(
    f"JAX {jax.__version__}; {method.config.method}, batch {method.config.batch_size}, images {data['images'].shape}"
  )
  with jax.set_mesh(mesh):
    data = jax.device_put(data, repl)
    state = jax.jit(lambda k: initial_state(method, k, data), out_shardings=repl)(jax.random.key(0))
    runner = PhaseRunner(method.phases(), repl)
    key = jax.device_put(jax.random.key(1), repl)
    walls = []
    for phase, fn in zip(runner.phases, runner.jitted):
      t0 = time.perf_counter()
      compiled = fn.lower(state, data, key).compile()
      print(f"phase {phase.name}: compile {time.perf_counter() - t0:.1f} s")
      ops = hlo_ops(compiled.as_text())
      holder = {"state": state}

      def call(compiled=compiled, holder=holder):
        holder["state"], metrics = compiled(holder["state"], data, key)
        return holder["state"], metrics

      events, wall, busy = profile_fn(call, (), a.calls)
      state = holder["state"]
      walls.append(wall)
      report(phase.name, events, ops, wall, busy, a.top)
    print(f"\nsum of phase walls: {sum(walls):.1f} ms")


if __name__ == "__main__":
  main()
