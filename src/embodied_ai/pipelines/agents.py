"""What every pipeline agent is: a config model, a ``run(ctx, inputs) -> outputs``, and the context it runs in.

An agent class (seed 004's ``agent_class``: ``DatasetAgent``, ``TrainingAgent``, ...) declares a pydantic
config model (unknown fields refused) and is built with its validated config. ``run`` gets an
``AgentContext`` (its job's log, progress, cancel flag and work directory, the services) and ``inputs``:
the outputs of every node upstream of it, by agent name, in the order they ran. It returns its outputs:
a JSON object, recorded as the job's step so that a resumed job feeds it downstream without running the
agent again. Outputs hold references (file paths, counts), never the data itself.

Conventions between agents: an output ``dataset`` is a `DatasetRef` (the table a later agent reads), an
output ``metrics`` (name -> number) is logged as a METRIC line by the pipeline runner.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict

from embodied_ai.errors import Conflict, InvalidRequest
from embodied_ai.jobs import JobCancelled, JobContext, LogLevel, LogLine

if TYPE_CHECKING:
    from embodied_ai.pipelines.services import PipelineServices

# The outputs of the nodes upstream of an agent, by agent name, in the order they ran.
Inputs = Mapping[str, Mapping[str, Any]]


class AttemptReplaced(JobCancelled):
    """This attempt of the job was taken over by another (a recovery resumed the job after this process was
    thought dead): the body stops, and the job system ignores what it would have written."""


class AgentConfig(BaseModel):
    """Base of every agent's config: unknown fields are refused (a typo is a 400, not a silent default)."""

    model_config = ConfigDict(extra="forbid")


class Agent(ABC):
    """One pipeline step. Subclasses set ``config_model`` and narrow ``config`` to it."""

    config_model: ClassVar[type[AgentConfig]] = AgentConfig
    # Whether the agent reads what an upstream node made (all but a source such as DatasetAgent): a node of
    # such a class with no edge into it is a problem of the pipeline.
    needs_input: ClassVar[bool] = True

    def __init__(self, config: AgentConfig) -> None:
        self.config = config

    @classmethod
    def check(cls, config: AgentConfig, services: PipelineServices) -> list[str]:
        """Problems of ``config`` that only the running system can see (a dataset that does not exist, a
        service this runtime lacks), found when the pipeline is submitted; each is one sentence."""
        return []

    @abstractmethod
    def run(self, ctx: AgentContext, inputs: Inputs) -> dict[str, Any]:
        """Do the step; the outputs must be JSON."""


class AgentContext:
    """What a running agent sees: its job (log lines carry the agent's name), its share of the job's
    progress, the cancel flag, a work directory, and the services."""

    def __init__(self, job: JobContext, agent_name: str, agent_class: str, services: PipelineServices,
                 index: int = 0, total: int = 1) -> None:
        self.job = job
        self.agent_name = agent_name
        self.agent_class = agent_class
        self.services = services
        self._index = index
        self._total = max(total, 1)

    @property
    def work_dir(self) -> Path:
        """The job's directory for what its agents write (created on first use)."""
        directory = self.services.work_dir(self.job.job.id)
        directory.mkdir(parents=True, exist_ok=True)
        return directory

    def output_path(self, suffix: str) -> Path:
        """A file of this agent in the job's work directory: ``<agent_name><suffix>``."""
        return self.work_dir / f"{self.agent_name}{suffix}"

    def log(self, level: str | LogLevel, message: str, step: int | None = None, epoch: float | None = None,
            loss: float | None = None, values: dict[str, Any] | None = None) -> LogLine:
        return self.job.log(level, message, agent=self.agent_name, step=step, epoch=epoch, loss=loss, values=values)

    def metric(self, message: str, step: int | None = None, epoch: float | None = None, loss: float | None = None,
               values: dict[str, Any] | None = None) -> LogLine:
        """A METRIC line (a training step's loss, an evaluation's scores)."""
        return self.log(LogLevel.METRIC, message, step=step, epoch=epoch, loss=loss, values=values)

    def progress(self, fraction: float, message: str = "") -> None:
        """This step's progress (0..1), reported as the job's: finished steps plus this fraction, over all."""
        share = min(max(fraction, 0.0), 1.0)
        try:
            self.job.progress(min(1.0, (self._index + share) / self._total))
        except Conflict as error:
            raise AttemptReplaced(str(error)) from error
        if message:
            self.log(LogLevel.INFO, message)

    @property
    def cancelled(self) -> bool:
        return self.job.cancelled

    def raise_if_cancelled(self) -> None:
        self.job.raise_if_cancelled()

    def checkpoint(self, data: dict[str, Any]) -> None:
        """Save where this agent is (a training epoch); the job keeps one checkpoint, tagged with the agent."""
        try:
            self.job.checkpoint({"agent": self.agent_name, "data": data})
        except Conflict as error:
            raise AttemptReplaced(str(error)) from error

    def last_checkpoint(self) -> dict[str, Any] | None:
        """This agent's last checkpoint from an earlier attempt of the job; None if it has none."""
        saved = self.job.last_checkpoint()
        if not saved or saved.get("agent") != self.agent_name or not isinstance(saved.get("data"), dict):
            return None
        data: dict[str, Any] = saved["data"]
        return data


@dataclass(frozen=True)
class DatasetRef:
    """A table one agent made and a later one reads (an output ``dataset``)."""

    path: str
    format: str
    rows: int
    columns: list[str]
    text_column: str | None = None
    dataset_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "format": self.format, "rows": self.rows, "columns": list(self.columns),
                "text_column": self.text_column, "dataset_id": self.dataset_id}

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> DatasetRef:
        return cls(path=str(value["path"]), format=str(value["format"]), rows=int(value["rows"]),
                   columns=[str(c) for c in value.get("columns", [])], text_column=value.get("text_column"),
                   dataset_id=value.get("dataset_id"))


def upstream(inputs: Inputs, key: str) -> Any:
    """The output ``key`` of the latest upstream node that has one; None if none has."""
    for outputs in reversed(list(inputs.values())):
        if key in outputs:
            return outputs[key]
    return None


def upstream_dataset(inputs: Inputs, agent: str) -> DatasetRef:
    """The table the nearest upstream node made; InvalidRequest naming ``agent`` when there is none."""
    value = upstream(inputs, "dataset")
    if not isinstance(value, Mapping):
        raise InvalidRequest(f"{agent} has no dataset to read", [
            f"{agent}: no node upstream of it makes a dataset; add an edge from a DatasetAgent"])
    return DatasetRef.from_dict(value)
