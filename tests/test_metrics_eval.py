"""experiments/eval.py on a workdir holding an exported (untrained) quickstart generator: every requested
evaluator runs, eval.json is written and the table printed; bad metric names give one-line errors."""

import importlib.util
import json

import jax
import pytest

from experiments import configs
from fsgen import checkpoint, methods
from fsgen import data as fsdata
from fsgen.data.info import DataInfo

from conftest import ROOT

_spec = importlib.util.spec_from_file_location("fsgen_eval_cli", ROOT / "experiments" / "eval.py")
eval_cli = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(eval_cli)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
  wd = tmp_path_factory.mktemp("run")
  c = configs.load("quickstart:test")
  c.devices, c.progress = 1, False
  data = fsdata.load(c.data)
  info = DataInfo.of(data, c.batch_size)
  method = methods.build(c, info)
  state = jax.jit(lambda k: method.init(k, {"images": data.images, "labels": data.labels}))(jax.random.key(0))
  checkpoint.export(wd / "export", method.sampling_params(state), c, info)
  (wd / "config.json").write_text(json.dumps(checkpoint.config_to_dict(c)))
  return wd


def test_eval_cli_writes_eval_json_and_table(workdir, capsys):
  eval_cli.main(
    [
      "--workdir",
      str(workdir),
      "--metrics",
      "fid,kid,lpips,intra_lpips,nn",
      "--n",
      "20",
      "--sample_batch",
      "10",
      "--set",
      "fid.size=75",
      "--set",
      "fid.batch=10",
      "--set",
      "kid.size=75",
      "--set",
      "kid.batch=10",
      "--set",
      "lpips.n=6",
      "--set",
      "intra_lpips.n=12",
      "--set",
      "nn.n=12",
      "--set",
      "nn.space='lpips_alex'",
    ]
  )
  out = json.loads((workdir / "eval.json").read_text())
  assert set(out) == {"fid", "kid", "lpips", "intra_lpips", "nn", "meta"}
  assert out["fid"]["fid"] > 0 and 0 <= out["lpips"]["lpips"] < 2 and out["nn"]["distinct_nn"] >= 1
  assert out["meta"]["settings"]["fid"]["n"] == 20 and out["meta"]["train_images"] == 10
  printed = capsys.readouterr().out
  assert "fid/fid" in printed and "nn/distinct_nn" in printed and "eval.json" in printed


def test_eval_cli_errors_are_one_line(workdir, tmp_path):
  with pytest.raises(SystemExit, match="unknown metrics bogus"):
    eval_cli.main(["--workdir", str(workdir), "--metrics", "bogus"])
  with pytest.raises(SystemExit, match="config.json not found"):
    eval_cli.main(["--workdir", str(tmp_path), "--metrics", "nn"])
  with pytest.raises(SystemExit, match="METRIC.KEY=VALUE"):
    eval_cli.main(["--workdir", str(workdir), "--metrics", "nn", "--set", "n=3"])
  with pytest.raises(SystemExit, match="evaluator .cas. needs labelled samples: method .gan."):
    eval_cli.main(["--workdir", str(workdir), "--metrics", "cas"])
