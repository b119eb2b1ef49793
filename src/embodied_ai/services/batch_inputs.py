"""What a ``batch_processing`` job reads: the files of a folder inside the datasets directory, or the text
cells of an uploaded dataset, in a fixed order (a resumed job must find its items where it left them)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from embodied_ai.errors import EmbodiedError

TEXT_SUFFIXES = (".txt",)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
MAX_ITEMS = 10_000

# An uploaded dataset's file and its detected text column (NotFound for an unknown id).
DatasetFile = Callable[[int], tuple[Path, str | None]]


@dataclass(frozen=True)
class Item:
    """One unit of work: ``source`` names it on its result line ({"file": ...} or {"row": ...}); a file's
    ``path`` or a cell's ``text``."""

    source: dict[str, Any]
    path: Path | None = None
    text: str | None = None

    def read_text(self) -> str:
        if self.text is not None:
            return self.text
        assert self.path is not None
        return self.path.read_text(encoding="utf-8", errors="replace")


def folder_items(root: Path, folder: str, suffixes: Sequence[str]) -> tuple[list[Item], list[str]]:
    """The files of ``folder`` (relative to the datasets directory ``root``, not its subfolders) whose names end
    in ``suffixes``, by name; and every reason the folder cannot be read (a URL, a path leading out of ``root``,
    no such folder, no such files)."""
    if "://" in folder:
        scheme = folder.split("://", 1)[0]
        return [], [f"input_source: {scheme}:// URLs are not read; put the files in a folder of the datasets "
                    "directory and name that folder"]
    if not folder.strip() or "\x00" in folder:
        return [], [f"input_source: {folder!r} is not a folder name"]
    base = root.resolve()
    real = (base / folder).resolve()   # follows symbolic links: a link out of the root is outside
    if not real.is_relative_to(base):
        return [], [f"input_source: {folder!r} leads outside the datasets directory; only folders inside it are read"]
    if not real.is_dir():
        return [], [f"input_source: no folder {folder!r} in the datasets directory"]
    files = sorted(p for p in real.iterdir() if p.suffix.lower() in suffixes and p.is_file()
                   and p.resolve().is_relative_to(base))
    if not files:
        return [], [f"input_source: folder {folder!r} has no {' / '.join(suffixes)} files"]
    if len(files) > MAX_ITEMS:
        return [], [f"input_source: folder {folder!r} has {len(files)} files; at most {MAX_ITEMS} are processed "
                    "in one job"]
    return [Item({"file": p.relative_to(base).as_posix()}, path=p) for p in files], []


def dataset_items(dataset_file: DatasetFile, dataset_id: int, columns: Sequence[str],
                  text_column: str | None) -> tuple[list[Item], list[str]]:
    """The non-empty text cells of an uploaded dataset's column, in row order: ``text_column`` when given, else
    the first of ``columns`` the dataset has, else its detected text column; and why there are none."""
    from embodied_ai.experts.datasets import read_records

    try:
        path, detected = dataset_file(dataset_id)
        table = read_records(path)
    except EmbodiedError as exc:
        return [], [f"dataset_id: {exc.message}"]
    column = text_column or next((c for c in columns if c in table.columns), detected)
    if column is None or column not in table.columns:
        wanted = repr(text_column) if text_column else f"none of {', '.join(columns)} and no detected text column"
        return [], [f"text_column: dataset {dataset_id} has {wanted} (its columns: {', '.join(table.columns)})"]
    items = [Item({"row": record.row}, text=value) for record in table.records
             if isinstance(value := record.values.get(column), str) and value.strip()]
    if not items:
        return [], [f"dataset_id: column {column!r} of dataset {dataset_id} has no text"]
    return items[:MAX_ITEMS], []


def prompt_items(prompts: Sequence[str]) -> list[Item]:
    return [Item({"prompt": index}, text=prompt) for index, prompt in enumerate(prompts)]
