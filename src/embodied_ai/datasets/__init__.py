"""The dataset registry the jobs node serves: uploads of both seeds (seed 000's training datasets for an
expert, seed 004's tables for pipelines) kept with their analysis and, when they hold training rows, the
validated JSONL that training reads.

    store = DatasetStore(state_dir / "operations.sqlite", state_dir / "datasets")
    dataset = store.add(Path("qa.csv"), "qa.csv", expert="5")
    store.preview(dataset.id, limit=5)
    store.training_file(dataset.id)     # the validated JSONL
"""

from embodied_ai.datasets.models import Dataset
from embodied_ai.datasets.store import DatasetStore

__all__ = ["Dataset", "DatasetStore"]
