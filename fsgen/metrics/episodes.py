"""Few-shot classification accuracy on a fixed list of real N-way K-shot episodes (LASIUM's protocol).

The paper (Sec. 4) and the official code score every method on the same 1000 tasks of held-out labelled
classes (fixed seed; K_val = 15 queries per class) and report the mean accuracy with a 95% interval
1.96 * std / sqrt(n) (the code's np.std, ddof 0). This evaluator draws that list once from `seed`
(fsgen.data.episodes.fixed_episodes), optionally writes it to `record` (JSON with the image names), and
scores a meta-learner through its `classify_episodes` (support [T, N, K, H, W, C], query [T, N, Q, ...]
in [-1, 1] -> predicted labels [T, N, Q]), which fsgen.metrics.Samplers attaches as `sample_fn.classify`.

The episodes come from `reference` (a data config with labels, e.g. the meta-test alphabets) or, without
one, from the training set itself. With a reference, its classes must be new: an image of the reference
that also appears in the training set (same pixels), or a class name both share, is an error, so
meta-test characters never overlap meta-training ones (e.g. small1 and small2 share Greek and Latin).

run -> {"accuracy": mean over tasks, "ci95": 1.96 std / sqrt(n), "tasks": n}; the per-task accuracies
of the last run stay in `last_accuracies` (for reproduction scripts that pool seeds).
"""

from __future__ import annotations

import hashlib
import math

import jax
import numpy as np

from fsgen.data.episodes import fixed_episodes, write_episodes
from fsgen.data.preprocess import to_float


def _check_disjoint(train, test) -> None:
  if train.class_names is not None and test.class_names is not None:
    shared = sorted(set(train.class_names) & set(test.class_names))
    if shared:
      raise ValueError(
        f"episodes: {len(shared)} meta-test classes are also training classes (e.g. {shared[0]}); "
        "filter them out of the reference (data.alphabets / data.exclude_alphabets / data.class_split)"
      )
  seen = {hashlib.sha1(im.tobytes()).hexdigest() for im in train.images}
  dup = [i for i, im in enumerate(test.images) if hashlib.sha1(im.tobytes()).hexdigest() in seen]
  if dup:
    raise ValueError(f"episodes: {len(dup)} meta-test images are also in the training set (e.g. {test.names[dup[0]]})")


class Evaluator:
  """Mean accuracy and 95% interval of `n_tasks` fixed `n_way`-way `k_shot`-shot episodes."""

  needs = ("episodes",)

  def __init__(
    self,
    dataset,
    reference=None,
    n_way: int = 5,
    k_shot: int = 1,
    k_query: int = 15,
    n_tasks: int = 1000,
    seed: int = 42,
    tasks_per_call: int = 1,
    record: str = "",
  ):
    if reference:
      from fsgen import data as fsdata  # pylint: disable=import-outside-toplevel

      test = fsdata.load(dict(reference))
      _check_disjoint(dataset, test)
    else:
      test = dataset
    if test.labels is None:
      raise ValueError("episodes needs labelled images (a labelled reference or training set)")
    self.images = np.asarray(test.images)
    self.support, self.query, self.classes = fixed_episodes(
      test.labels, n_way=n_way, k_shot=k_shot, k_query=k_query, n_tasks=n_tasks, seed=seed
    )
    self.tasks_per_call = max(1, min(int(tasks_per_call), n_tasks))
    self.settings = dict(n_way=n_way, k_shot=k_shot, k_query=k_query, n_tasks=n_tasks, seed=seed)
    if record:
      write_episodes(record, self.support, self.query, test.names, **self.settings)
    self.last_accuracies: np.ndarray | None = None

  def task_accuracies(self, classify) -> np.ndarray:
    """float64 [n_tasks] accuracies of classify(support, query) -> labels [T, N, Q], tasks_per_call at a
    time (the last call padded with repeated tasks so every call has one shape: one compilation)."""
    n, t = len(self.support), self.tasks_per_call
    n_way, k_query = self.query.shape[1:]
    truth = np.broadcast_to(np.arange(n_way)[:, None], (n_way, k_query))
    accs = []
    for start in range(0, n, t):
      idx = np.arange(start, start + t) % n
      pred = np.asarray(
        jax.device_get(classify(to_float(self.images[self.support[idx]]), to_float(self.images[self.query[idx]])))
      )
      accs.append((pred == truth).mean(axis=(1, 2))[: min(t, n - start)])
    return np.concatenate(accs).astype(np.float64)

  def run(self, sample_fn, key) -> dict[str, float]:
    classify = getattr(sample_fn, "classify", None)
    if classify is None:
      raise ValueError("episodes needs a few-shot learner: sample_fn.classify (method.classify_episodes)")
    accs = self.task_accuracies(classify)
    self.last_accuracies = accs
    return {"accuracy": float(accs.mean()), "ci95": float(1.96 * accs.std() / math.sqrt(len(accs))), "tasks": len(accs)}
