"""The dataset registry as the bridge reaches it (served by the jobs node): datasets as the jobs node
shows them (JSON-ready dicts: embodied_ai.datasets.Dataset.to_dict, and the store's preview)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

DatasetView = dict[str, Any]
PreviewView = dict[str, Any]


class DatasetsPort(Protocol):
    async def add(self, path: Path, filename: str, name: str | None, expert: str | None, description: str,
                  format: str | None) -> DatasetView:
        """Add the file at ``path`` (inside the state directory's datasets folder; the registry keeps its own
        copy). InvalidRequest (400) listing every problem; DATASET_INVALID (2001) for a file that is not
        what its format says, has no usable row, or (with ``expert``) no usable training row."""
        ...

    async def get(self, dataset_id: int) -> DatasetView:
        """NotFound (404) for an unknown id."""
        ...

    async def preview(self, dataset_id: int, limit: int) -> PreviewView:
        """``{dataset_id, samples, total_rows}``; NotFound (404) for an unknown id."""
        ...

    async def list_datasets(self, limit: int, offset: int) -> tuple[list[DatasetView], int]:
        """A page of datasets, newest first, and how many there are."""
        ...
