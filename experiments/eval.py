"""Scores a trained workdir: python experiments/eval.py --workdir W --metrics fid,kid,pr,lpips,intra_lpips,nn

Loads the sampler with fsgen.sample.load_sampler (W/export, else the latest checkpoint) and the training
set from W's config (fsgen.data.load(config.data)), runs one fsgen.metrics.<name>.Evaluator per metric,
writes W/eval.json ({metric: {value name: float}, "meta": {...}}) and prints a table.

Metrics: fid, kid, pr (Inception pool3 at 299 px, clean-fid resize), lpips (pairwise LPIPS-VGG diversity),
intra_lpips (CDC intra-cluster LPIPS), nn (memorisation; --set nn.space=lpips_vgg), ppl (needs
method.interpolate), cas (needs method.sample_labelled), episodes (a meta-learner's few-shot accuracy;
the workdir's config.evals of type episodes, each writing its task list to W/episodes_NAME.json).
Options:
  --n N                 generated images for fid/kid/pr (default 5000; each metric has its own default)
  --reference SOURCE    FID/KID/PR reference data source (default: the training set), e.g.
                        idx:../shared/data/fashion_mnist:t10k, resized to the training resolution
  --set name.key=value  any Evaluator argument, e.g. --set fid.size=139 --set lpips.n=200
  --seed S              sampling seed (default 0); --sample_batch B: images per sampler call (64)
"""

from __future__ import annotations

import argparse
import ast
import json
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # run from a plain checkout too

METRICS = ("fid", "kid", "pr", "lpips", "intra_lpips", "nn", "ppl", "cas", "episodes")
INCEPTION_METRICS = ("fid", "kid", "pr")


def parse_sets(items: list[str]) -> dict[str, dict]:
  """['fid.n=100', 'nn.space=lpips_vgg'] -> {'fid': {'n': 100}, 'nn': {'space': 'lpips_vgg'}}."""
  out: dict[str, dict] = {}
  for item in items:
    key, eq, value = item.partition("=")
    metric, dot, name = key.partition(".")
    if not eq or not dot or metric not in METRICS:
      raise ValueError(f"--set {item!r}: expected METRIC.KEY=VALUE with METRIC in {', '.join(METRICS)}")
    try:
      parsed = ast.literal_eval(value)
    except (ValueError, SyntaxError):
      parsed = value
    out.setdefault(metric, {})[name] = parsed
  return out


def _episode_evals(config) -> dict:
  """The config.evals entries of type episodes (a LASIUM meta-learner's test tasks), by name."""
  evals = config.get("evals", {})
  evals = evals.to_dict() if hasattr(evals, "to_dict") else dict(evals)
  return {k: dict(v) for k, v in evals.items() if v and v.get("type") == "episodes"}


def evaluate(
  workdir: str,
  metrics: list[str],
  n: int | None = None,
  reference: str | None = None,
  sets: dict | None = None,
  seed: int = 0,
  sample_batch: int = 64,
) -> dict:
  """Runs the metrics on a trained workdir and writes WORKDIR/eval.json; returns its content."""
  import jax  # pylint: disable=import-outside-toplevel
  import ml_collections  # pylint: disable=import-outside-toplevel

  from fsgen import data as fsdata  # pylint: disable=import-outside-toplevel
  from fsgen import metrics as fsmetrics
  from fsgen.sample import load_sampler  # pylint: disable=import-outside-toplevel

  unknown = [m for m in metrics if m not in METRICS]
  if unknown:
    raise ValueError(f"unknown metrics {', '.join(unknown)} (known: {', '.join(METRICS)})")
  wd = pathlib.Path(workdir)
  cfg_path = wd / "config.json"
  if not cfg_path.exists():
    raise FileNotFoundError(f"{cfg_path} not found: is {wd} a training workdir?")
  config = ml_collections.ConfigDict(json.loads(cfg_path.read_text()))
  dataset = fsdata.load(config.data)
  method, params = load_sampler(str(wd))
  sets = sets or {}
  evals = {}
  for m in metrics:
    kw = dict(sets.get(m, {}))
    if m == "episodes" and _episode_evals(config):
      # The workdir's own few-shot evaluators (reference classes, shots); the task list goes to the workdir.
      for name, cfg in _episode_evals(config).items():
        evals[name] = {**cfg, "every": 1, "record": str(wd / f"episodes_{name}.json"), **kw}
      continue
    if m in INCEPTION_METRICS:
      if n is not None:
        kw.setdefault("n", n)
      if reference is not None:
        kw.setdefault(
          "reference", {"source": reference, "resolution": dataset.images.shape[1], "channels": dataset.images.shape[3]}
        )
    evals[m] = {"type": m, "every": 1, **kw}
  evaluators = fsmetrics.build_all(evals, dataset)
  key = jax.random.key(seed)
  samplers = fsmetrics.Samplers(method, evaluators, chunk=sample_batch)
  results, seconds = {}, {}
  cache: dict = {}  # one key and one cache: fid, kid and pr share one pass of generated Inception features
  for name, ev in evaluators.items():  # one evaluator at a time, to time each
    t0 = time.time()
    results.update(fsmetrics.evaluate(samplers, {name: ev}, params, key, cache=cache))
    seconds[name] = round(time.time() - t0, 2)
  out = {
    **results,
    "meta": {
      "workdir": str(wd),
      "method": config.method,
      "data": config.data.source,
      "train_images": len(dataset),
      "seed": seed,
      "seconds": seconds,
      "settings": evals,
    },
  }
  (wd / "eval.json").write_text(json.dumps(out, indent=1))
  return out


def table(results: dict) -> str:
  rows = [(m, k, v) for m, vals in results.items() if m != "meta" for k, v in vals.items()]
  w = max([len(f"{m}/{k}") for m, k, _ in rows] + [6])
  lines = [f"{'metric':<{w}}  value", "-" * (w + 14)]
  lines += [f"{f'{m}/{k}':<{w}}  {v:.6g}" for m, k, v in rows]
  return "\n".join(lines)


def main(argv=None) -> None:
  p = argparse.ArgumentParser(
    prog="python experiments/eval.py",
    description=__doc__.splitlines()[0],
    formatter_class=argparse.RawDescriptionHelpFormatter,
    epilog=__doc__,
  )
  p.add_argument("--workdir", required=True)
  p.add_argument("--metrics", default="fid,kid,pr,lpips,intra_lpips,nn")
  p.add_argument("--n", type=int, default=None)
  p.add_argument("--reference", default=None)
  p.add_argument("--set", action="append", default=[], dest="sets")
  p.add_argument("--seed", type=int, default=0)
  p.add_argument("--sample_batch", type=int, default=64)
  a = p.parse_args(argv)
  from fsgen.assets import AssetError  # pylint: disable=import-outside-toplevel

  try:
    out = evaluate(
      a.workdir,
      [m.strip() for m in a.metrics.split(",") if m.strip()],
      a.n,
      a.reference,
      parse_sets(a.sets),
      a.seed,
      a.sample_batch,
    )
  except (FileNotFoundError, ValueError, AssetError) as e:
    sys.exit(f"error: {e}")
  print(table(out))
  print(f"wrote {pathlib.Path(a.workdir) / 'eval.json'}")


if __name__ == "__main__":
  main()
