"""Opening the runtime's SQLite state databases, and their write transactions, in one place.

Every store keeps one connection per process, shared between threads under the store's lock:
autocommit mode (``isolation_level=None``) so that ``transaction`` alone decides where a write
begins and ends, WAL so that other connections (other modules' stores on the same file, a second
process) read while one writes, and a busy timeout so that a writer waits for another
connection's transaction instead of failing with "database is locked".
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Literal

Synchronous = Literal["OFF", "NORMAL", "FULL", "EXTRA"]

MAX_PAGE = 1000                 # the most rows one list call of a store returns
DEFAULT_BUSY_TIMEOUT_S = 30.0   # generous: several modules' connections write the operations database


def open_database(path: Path | str, schema: str, *, synchronous: Synchronous = "FULL", foreign_keys: bool = True,
                  busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S, named_rows: bool = True) -> sqlite3.Connection:
    """A connection to ``path`` (its folder created when missing) that any thread may use, in WAL mode with
    ``synchronous`` (FULL: a commit that returned has reached the disk), with ``schema`` applied (a script
    of ``CREATE ... IF NOT EXISTS``). ``named_rows``: rows are ``sqlite3.Row`` (by name and by index)
    rather than tuples."""
    if synchronous not in ("OFF", "NORMAL", "FULL", "EXTRA"):
        raise ValueError(f"synchronous: {synchronous!r} is not one of OFF, NORMAL, FULL, EXTRA")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=busy_timeout_s)
    if named_rows:
        connection.row_factory = sqlite3.Row
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute(f"PRAGMA synchronous={synchronous}")
    if foreign_keys:
        connection.execute("PRAGMA foreign_keys=ON")
    connection.executescript(schema)
    return connection


@contextmanager
def transaction(connection: sqlite3.Connection, lock: AbstractContextManager[Any]) -> Iterator[sqlite3.Connection]:
    """One write transaction on ``connection``, holding ``lock`` (what guards the connection) throughout:
    committed when the block ends, rolled back (and the exception raised on) when it raises. BEGIN IMMEDIATE
    takes the write lock at the start, so a transaction that reads then writes never fails half-way on
    another connection's write."""
    with lock:
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield connection
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise


def page_problems(limit: object, offset: object = 0) -> list[str]:
    """What is wrong with a store's paging (``limit`` 1..MAX_PAGE, ``offset`` >= 0); empty when fine."""
    problems = []
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
        problems.append(f"limit: {limit!r} is not an integer from 1 to {MAX_PAGE}")
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        problems.append(f"offset: {offset!r} is not an integer >= 0")
    return problems
