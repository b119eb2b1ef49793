"""Episodes as training and reconcile count them: one record per finished episode, its success
score by the task's own success rule, and the per-episode log a training job resumes from.

A task's success is judged per step (``info["is_success"]``); an episode's **score** follows
the task: head tracking never terminates, so its score is the fraction of its steps centred;
reaching terminates on success, so its score is 1 when it ended reached, else 0.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

# Tasks whose episodes end on success (score: reached or not); the others score the fraction of
# their steps that succeeded.
TERMINAL_SUCCESS_TASKS = frozenset({"reach"})


def episode_score(task: str, successes: Sequence[bool]) -> float:
    """An episode's success score in [0, 1] from its steps' ``is_success`` (see the module text)."""
    if not successes:
        return 0.0
    if task in TERMINAL_SUCCESS_TASKS:
        return float(bool(successes[-1]))
    return float(np.mean(successes))


@dataclass(frozen=True)
class EpisodeRecord:
    """One finished episode of training: ``episode`` counts from 1."""

    episode: int
    reward: float
    steps: int
    latency_ms: float        # wall-clock per step: simulation, the policy and the learning updates
    success: float           # the episode's score (``episode_score``)

    def to_json(self) -> str:
        return json.dumps(asdict(self))


@dataclass
class EpisodeTracker:
    """Accumulates one episode's steps as a learner takes them; ``finish`` makes its record."""

    task: str
    episode: int = 0                     # episodes finished so far
    reward: float = 0.0
    successes: list[bool] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)

    def step(self, reward: float, success: bool) -> None:
        self.reward += float(reward)
        self.successes.append(bool(success))

    def finish(self) -> EpisodeRecord:
        now = time.perf_counter()
        steps = len(self.successes)
        self.episode += 1
        record = EpisodeRecord(episode=self.episode, reward=round(self.reward, 6), steps=steps,
                               latency_ms=round(1000.0 * (now - self.started) / max(steps, 1), 4),
                               success=round(episode_score(self.task, self.successes), 6))
        self.reward, self.successes, self.started = 0.0, [], now
        return record


class EpisodeLog:
    """A training run's episodes, one JSON line each in ``path``, appended as they finish."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def restore(self, episodes: int) -> list[EpisodeRecord]:
        """The first ``episodes`` records (those the last checkpoint covers); later lines, and a
        line cut by a kill, are dropped from the file: those episodes are trained again."""
        records: list[EpisodeRecord] = []
        if self.path.is_file():
            for line in self.path.read_text(encoding="utf-8").splitlines(keepends=True):
                if len(records) == episodes or not line.endswith("\n"):
                    break
                records.append(EpisodeRecord(**json.loads(line)))
        if len(records) < episodes:
            raise ValueError(f"{self.path} holds {len(records)} episodes, the checkpoint covers {episodes}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text("".join(r.to_json() + "\n" for r in records), encoding="utf-8")
        return records

    def append(self, record: EpisodeRecord) -> None:
        with self.path.open("a", encoding="utf-8") as sink:
            sink.write(record.to_json() + "\n")

    def read(self) -> list[EpisodeRecord]:
        """Every complete line (for a status view while the run goes on)."""
        if not self.path.is_file():
            return []
        lines = self.path.read_text(encoding="utf-8").splitlines(keepends=True)
        return [EpisodeRecord(**json.loads(line)) for line in lines if line.endswith("\n")]
