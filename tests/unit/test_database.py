"""Opening a state database and its write transactions, on real SQLite files."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from embodied_ai.database import open_database, transaction

SCHEMA = """
CREATE TABLE IF NOT EXISTS parents (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS children (
    id INTEGER PRIMARY KEY,
    parent_id INTEGER NOT NULL REFERENCES parents(id) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS items (writer TEXT NOT NULL, n INTEGER NOT NULL);
"""


def _count(db: sqlite3.Connection, table: str) -> int:
    return int(db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def test_opens_in_wal_with_the_schema_creating_the_folder(tmp_path: Path) -> None:
    path = tmp_path / "state" / "nested" / "operations.sqlite"
    db = open_database(path, SCHEMA)
    try:
        assert path.is_file()
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA synchronous").fetchone()[0] == 2         # FULL
        assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert db.execute("PRAGMA busy_timeout").fetchone()[0] == 30_000
        assert db.in_transaction is False and db.isolation_level is None   # autocommit: transaction() decides
        db.execute("INSERT INTO parents(id, name) VALUES (1, 'a')")
        row = db.execute("SELECT id, name FROM parents").fetchone()
        assert isinstance(row, sqlite3.Row) and row["name"] == "a" and row[0] == 1
    finally:
        db.close()


def test_the_options_are_applied(tmp_path: Path) -> None:
    db = open_database(tmp_path / "x.sqlite", SCHEMA, synchronous="NORMAL", foreign_keys=False, busy_timeout_s=2.5,
                       named_rows=False)
    try:
        assert db.execute("PRAGMA synchronous").fetchone()[0] == 1         # NORMAL
        assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 0
        assert db.execute("PRAGMA busy_timeout").fetchone()[0] == 2_500
        db.execute("INSERT INTO children(id, parent_id) VALUES (1, 99)")  # no such parent: allowed without FKs
        assert db.execute("SELECT id, parent_id FROM children").fetchone() == (1, 99)
    finally:
        db.close()


def test_foreign_keys_are_enforced_by_default(tmp_path: Path) -> None:
    db = open_database(tmp_path / "x.sqlite", SCHEMA)
    try:
        with pytest.raises(sqlite3.IntegrityError):
            db.execute("INSERT INTO children(id, parent_id) VALUES (1, 99)")
    finally:
        db.close()


def test_reopening_keeps_the_data(tmp_path: Path) -> None:
    path = tmp_path / "x.sqlite"
    db = open_database(path, SCHEMA)
    db.execute("INSERT INTO parents(id, name) VALUES (1, 'kept')")
    db.close()
    db = open_database(path, SCHEMA)   # the schema script runs again: IF NOT EXISTS keeps the rows
    try:
        assert db.execute("SELECT name FROM parents").fetchone()[0] == "kept"
    finally:
        db.close()


def test_an_unknown_synchronous_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="synchronous"):
        open_database(tmp_path / "x.sqlite", SCHEMA, synchronous="SOMETIMES")  # type: ignore[arg-type]


def test_a_transaction_commits(tmp_path: Path) -> None:
    path = tmp_path / "x.sqlite"
    db = open_database(path, SCHEMA)
    lock = threading.Lock()
    with transaction(db, lock) as tx:
        assert tx is db and db.in_transaction and lock.locked()
        tx.execute("INSERT INTO parents(id, name) VALUES (1, 'a')")
        tx.execute("INSERT INTO children(id, parent_id) VALUES (1, 1)")
    assert not lock.locked() and not db.in_transaction
    other = open_database(path, SCHEMA)   # committed: another connection sees it
    try:
        assert _count(other, "parents") == 1 and _count(other, "children") == 1
    finally:
        other.close()
        db.close()


def test_an_exception_rolls_everything_back(tmp_path: Path) -> None:
    db = open_database(tmp_path / "x.sqlite", SCHEMA)
    lock = threading.Lock()
    with pytest.raises(RuntimeError, match="half-way"):
        with transaction(db, lock) as tx:
            tx.execute("INSERT INTO parents(id, name) VALUES (1, 'a')")
            tx.execute("INSERT INTO children(id, parent_id) VALUES (1, 1)")
            raise RuntimeError("half-way")
    assert not lock.locked() and not db.in_transaction
    assert _count(db, "parents") == 0 and _count(db, "children") == 0
    with pytest.raises(sqlite3.IntegrityError):   # an SQL error inside rolls back the earlier statements too
        with transaction(db, lock) as tx:
            tx.execute("INSERT INTO parents(id, name) VALUES (2, 'b')")
            tx.execute("INSERT INTO children(id, parent_id) VALUES (1, 99)")
    assert _count(db, "parents") == 0
    with transaction(db, lock) as tx:             # and the connection is usable afterwards
        tx.execute("INSERT INTO parents(id, name) VALUES (3, 'c')")
    assert _count(db, "parents") == 1
    db.close()


def test_a_second_connection_waits_for_the_first_ones_transaction(tmp_path: Path) -> None:
    path = tmp_path / "x.sqlite"
    first = open_database(path, SCHEMA)
    waiting = open_database(path, SCHEMA, busy_timeout_s=10.0)
    impatient = open_database(path, SCHEMA, busy_timeout_s=0.0)
    finished = threading.Event()

    def write() -> None:
        with transaction(waiting, threading.Lock()) as tx:
            tx.execute("INSERT INTO items(writer, n) VALUES ('waiting', 1)")
        finished.set()

    try:
        with transaction(first, threading.Lock()) as tx:
            tx.execute("INSERT INTO items(writer, n) VALUES ('first', 1)")
            # Without a busy timeout, a writer fails at once while another connection holds the write lock.
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                with transaction(impatient, threading.Lock()):
                    pass
            writer = threading.Thread(target=write)
            writer.start()
            time.sleep(0.3)
            assert not finished.is_set()          # blocked on the first transaction, not failed
        writer.join(timeout=10.0)
        assert finished.is_set()
        assert [tuple(r) for r in first.execute("SELECT writer, n FROM items ORDER BY rowid")] == [
            ("first", 1), ("waiting", 1)]
    finally:
        impatient.close()
        waiting.close()
        first.close()


def test_two_connections_write_one_file_under_load(tmp_path: Path) -> None:
    path = tmp_path / "operations.sqlite"
    connections = [open_database(path, SCHEMA) for _ in range(2)]
    errors: list[BaseException] = []
    per_writer, per_transaction = 200, 5

    def write(name: str, db: sqlite3.Connection) -> None:
        lock = threading.Lock()   # each store guards its own connection
        try:
            for i in range(per_writer):
                with transaction(db, lock) as tx:
                    # Read then write, as the stores do (next seq, then insert): BEGIN IMMEDIATE keeps it safe.
                    _count(tx, "items")
                    tx.executemany("INSERT INTO items(writer, n) VALUES (?, ?)",
                                   [(name, i * per_transaction + k) for k in range(per_transaction)])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(f"w{i}", db)) for i, db in enumerate(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60.0)
    try:
        assert errors == []
        for i in range(2):
            assert connections[0].execute("SELECT COUNT(*) FROM items WHERE writer=?",
                                          (f"w{i}",)).fetchone()[0] == per_writer * per_transaction
    finally:
        for db in connections:
            db.close()


def test_paging_problems_are_listed_together() -> None:
    from embodied_ai.database import MAX_PAGE, page_problems

    assert page_problems(1, 0) == [] and page_problems(MAX_PAGE) == []
    problems = page_problems(MAX_PAGE + 1, -1)
    assert len(problems) == 2 and str(MAX_PAGE) in problems[0] and "offset" in problems[1]
    assert len(page_problems(True, 0)) == 1 and len(page_problems("10", 0)) == 1   # not an integer
