"""Search settings chosen for a recall and latency target, measured against exact search.

An approximate index has one query-time knob that trades recall for time: ``nprobe`` (IVF
cells scanned), ``efSearch`` (HNSW beam) or the divergent cell budget of the branch and
bound (:func:`pictext.rank.bound.bnb_search`). :func:`tune` tries increasing values on
held-out queries, one query at a time on the calling thread (as a service answers them),
scores each against the exact answers, and keeps the smallest value whose recall@k reaches
the target. Choose on validation queries and report on others: the chosen setting is
re-measured by :func:`measure` on queries it was not chosen on.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

Search = Callable[[np.ndarray], np.ndarray]  # [1, D] query -> [1, k] row ids


@dataclass
class Measured:
    """Recall and single-query latency of one setting."""

    value: int  # the knob's value
    recall: float  # mean recall@k against exact search
    p50_ms: float  # median latency of one query
    p99_ms: float  # 99th-percentile latency of one query


@dataclass
class Tuned:
    """The setting :func:`tune` chose and every trial it made."""

    knob: str  # "nprobe", "ef_search" or "divergent_cells"
    chosen: Measured  # the smallest value reaching the recall target (else the best tried)
    target_recall: float  # recall@k asked for
    target_p99_ms: float  # p99 latency asked for
    trials: list[Measured] = field(default_factory=list)  # in the order tried

    @property
    def met(self) -> bool:
        """Both targets reached by the chosen setting."""
        c = self.chosen
        return c.recall >= self.target_recall and c.p99_ms < self.target_p99_ms

    def to_dict(self) -> dict[str, Any]:
        """Plain values for a JSON record."""
        return asdict(self) | {"met": self.met}


def recall_at(got: np.ndarray, truth: np.ndarray) -> float:
    """Mean share of each ``truth`` row found in the same ``got`` row (``-1`` never counts)."""
    hits = [
        len(set(g[g >= 0].tolist()) & set(t.tolist())) / len(t)
        for g, t in zip(got, truth, strict=True)
    ]
    return float(np.mean(hits)) if hits else 0.0


def measure(
    search: Search, queries: np.ndarray, truth: np.ndarray, value: int = 0, repeats: int = 1
) -> Measured:
    """Time ``search`` query by query and score it against ``truth`` (``[Q, k]`` row ids).

    With ``repeats > 1`` each query's time is the fastest of that many runs: on a shared
    machine that takes out the waits for another process's time slice, not the query's
    own cost (a query that is slow is slow every time).
    """
    got, times = [], []
    for q in np.asarray(queries, np.float32):
        best = float("inf")
        for _ in range(max(1, repeats)):
            t = time.perf_counter()
            answer = np.asarray(search(q[None]))[0]
            best = min(best, 1000 * (time.perf_counter() - t))
        got.append(answer)
        times.append(best)
    p50, p99 = np.percentile(times, [50, 99])
    return Measured(value, recall_at(np.stack(got), truth), float(p50), float(p99))


def tune(
    knob: str,
    search_at: Callable[[int], Search],
    values: Sequence[int],
    queries: np.ndarray,
    truth: np.ndarray,
    target_recall: float = 0.95,
    target_p99_ms: float = 10.0,
    repeats: int = 1,
) -> Tuned:
    """The smallest of ``values`` (tried in increasing order) whose recall reaches the target.

    Args:
        knob: what is tuned (recorded).
        search_at: ``value -> search`` with the knob set to ``value``.
        values: candidate values.
        queries: ``[Q, D]`` validation queries, in the space ``search`` expects.
        truth: ``[Q, k]`` exact answers to them.
        target_recall: recall@k to reach.
        target_p99_ms: latency target, recorded in the result's ``met``.
        repeats: runs per query, the fastest timed (see :func:`measure`).

    Returns:
        The choice and its trials; when no value reaches the recall, the one of highest
        recall (``met`` is then False).
    """
    trials = []
    for value in sorted(values):
        trials.append(measure(search_at(value), queries, truth, value, repeats))
        if trials[-1].recall >= target_recall:
            break
    if not trials:
        raise ValueError(f"no {knob} values to try")
    reached = [t for t in trials if t.recall >= target_recall]
    chosen = reached[0] if reached else max(trials, key=lambda t: t.recall)
    return Tuned(knob, chosen, target_recall, target_p99_ms, trials)


def doubling(limit: int, start: int = 1) -> list[int]:
    """``start, 2 start, 4 start, ...`` up to ``limit``, with ``limit`` itself last."""
    out, v = [], max(1, start)
    while v < limit:
        out.append(v)
        v *= 2
    return [*out, limit]
