"""N-way K-shot episodes from real labelled classes, and the seeded class split of a labelled dataset.

An episode (task) is N distinct classes and, per class, K support and Q query images, all different:
support indices [N, K] and query indices [N, Q] into the dataset; class n of the episode has label n.

  fixed_episodes(labels, ...)   the fixed evaluation list drawn on the host from a seed (numpy), so every
                                method is scored on the same tasks (the paper's protocol: 1000 tasks,
                                fixed seed); write_episodes records it as JSON
  sample_episode(key, ...)      one episode drawn inside jitted code (supervised meta-training)

The seeded class split of a dataset (meta-train / meta-val / meta-test classes) is fsgen.data.class_split.
"""

from __future__ import annotations

import json
import pathlib

import jax
import jax.numpy as jnp
import numpy as np


def _members(labels: np.ndarray) -> dict[int, np.ndarray]:
  labels = np.asarray(labels)
  return {int(c): np.flatnonzero(labels == c) for c in np.unique(labels)}


def fixed_episodes(
  labels: np.ndarray, *, n_way: int, k_shot: int, k_query: int, n_tasks: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """A list of n_tasks episodes drawn with numpy's default_rng(seed).

  Only classes with at least k_shot + k_query images take part. Within a task the classes are distinct
  and the support and query images of a class are distinct images.
  Returns:
    (support int64 [T, N, K], query int64 [T, N, Q], classes int64 [T, N]) indices into `labels`.
  Raises:
    ValueError naming the shortfall when fewer than n_way classes have k_shot + k_query images.
  """
  members = _members(labels)
  need = k_shot + k_query
  eligible = np.array(sorted(c for c, idx in members.items() if len(idx) >= need))
  if len(eligible) < n_way:
    raise ValueError(
      f"episodes need {n_way} classes with >= {need} images ({k_shot} shots + {k_query} queries); "
      f"the data has {len(eligible)} such classes (of {len(members)})"
    )
  rng = np.random.default_rng(seed)
  support = np.empty((n_tasks, n_way, k_shot), np.int64)
  query = np.empty((n_tasks, n_way, k_query), np.int64)
  classes = np.empty((n_tasks, n_way), np.int64)
  for t in range(n_tasks):
    classes[t] = rng.choice(eligible, n_way, replace=False)
    for n, c in enumerate(classes[t]):
      picks = rng.choice(members[int(c)], need, replace=False)
      support[t, n], query[t, n] = picks[:k_shot], picks[k_shot:]
  return support, query, classes


def write_episodes(path: str | pathlib.Path, support: np.ndarray, query: np.ndarray, names: list[str], **meta) -> None:
  """Writes the episode list as JSON: the settings (`meta`), and per task the image names of each class's
  support and query images (names[i] of index i), so the exact tasks can be checked or reused."""
  path = pathlib.Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  tasks = [
    {"support": [[names[i] for i in row] for row in s], "query": [[names[i] for i in row] for row in q]}
    for s, q in zip(support.tolist(), query.tolist())
  ]
  path.write_text(json.dumps({**meta, "tasks": tasks}, indent=0))


def sample_episode(
  key: jax.Array, labels: jax.Array, num_classes: int, *, n_way: int, k_shot: int, k_query: int
) -> tuple[jax.Array, jax.Array]:
  """One episode drawn inside jitted code: (support int32 [N, K], query int32 [N, Q]) indices.

  labels: int32 [M] with values in 0..num_classes-1. Classes with fewer than k_shot + k_query images
  are skipped (the data must have at least n_way classes that are not; Omniglot has 20 per class).
  Classes are a uniform draw without replacement; within each class, k_shot + k_query distinct images.
  """
  need = k_shot + k_query
  kc, ki = jax.random.split(key)
  counts = jnp.bincount(labels, length=num_classes)
  class_scores = jnp.where(counts >= need, jax.random.uniform(kc, (num_classes,)), -1.0)
  _, classes = jax.lax.top_k(class_scores, n_way)
  # Per class: random scores on its own images, -1 elsewhere; the `need` largest are its picks.
  scores = jnp.where(labels[None, :] == classes[:, None], jax.random.uniform(ki, (n_way, labels.shape[0])), -1.0)
  _, picks = jax.lax.top_k(scores, need)
  return picks[:, :k_shot].astype(jnp.int32), picks[:, k_shot:].astype(jnp.int32)
