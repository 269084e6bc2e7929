"""Is a path a whole DuckDB store file? Checks that read a file's head and shape and never create
or change anything, and the words that tell a person what is wrong."""

from __future__ import annotations

from pathlib import Path

import duckdb


class StoreError(RuntimeError):
    """The store is missing, unreadable or of another schema version."""


DUCKDB_MAGIC = b"DUCK"  # bytes 8..12 of every DuckDB database file
HEADER_BYTES = 3 * 4096  # the file header and the two database headers before the first block


def check_store_file(store_path: Path) -> None:
    """StoreError unless the path is an existing, non-empty DuckDB file (never creates anything)."""
    store_path = Path(store_path)
    if not store_path.exists():
        hint = (
            f"the folder {store_path.parent} does not exist either; "
            if not store_path.parent.exists()
            else ""
        )
        raise StoreError(
            f"{store_path}: no store here yet; {hint}check --store, or run `pipeline all` to create one"
        )
    if store_path.is_dir():
        raise StoreError(f"{store_path}: is a folder; expected a DuckDB store file (--store FILE)")
    try:
        with open(store_path, "rb") as fh:
            head = fh.read(12)
    except OSError as exc:
        raise StoreError(f"{store_path}: cannot read the store ({exc.strerror})") from exc
    if not head:
        raise StoreError(f"{store_path}: empty file; expected a DuckDB store")
    if head[8:12] != DUCKDB_MAGIC:
        raise StoreError(f"{store_path}: not a DuckDB database file; expected a DuckDB store")


def check_complete(
    con: duckdb.DuckDBPyConnection, store_path: Path, size: int, database: str | None = None
) -> None:
    """A store cut short (a partial copy, a full disk) is not headers plus whole blocks.

    Only the shape is compared, not the header's block count: DuckDB trims free blocks off the
    end of the file, and the path may already name a newer store than the connection's (a
    publish renames a new file over it). A file cut on a block boundary is caught when a query
    reads a missing block (a damaged-store error). ``database``: the attached store's name
    when it is not the connection's default catalog.
    """
    block_size = con.execute(
        "SELECT block_size FROM pragma_database_size() "
        "WHERE database_name = coalesce(?, current_database()) LIMIT 1",
        [database],
    ).fetchall()
    block = int(block_size[0][0])
    if size < HEADER_BYTES or (size - HEADER_BYTES) % block:
        raise StoreError(
            f"{store_path}: truncated store ({size} bytes is not a whole number of "
            f"{block}-byte blocks); restore it from a copy or rebuild it with "
            "`pipeline all --store NEW`"
        )


def open_error(store_path: Path, exc: duckdb.Error) -> StoreError:
    """What to tell a person whose store DuckDB refused to open read-only."""
    if "read enough bytes" in str(exc):  # the file ends before its blocks do
        return StoreError(
            f"{store_path}: truncated store (the file ends early); restore it from a copy "
            "or rebuild it with `pipeline all --store NEW`"
        )
    return StoreError(f"{store_path}: cannot open the store read-only: {first_line(exc)}")


def first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
