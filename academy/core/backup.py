"""`flask backup FILE` and `flask restore FILE`: the whole database as one portable file, any engine to any engine.

The file is gzipped JSON Lines. The first line is a header (format, version, the Alembic revision of the schema, when
it was written); then, table by table in foreign-key order (`metadata.sorted_tables`), a line naming the table and its
columns followed by one JSON array per row, ordered by primary key; the last line counts the rows of each table, so a
cut-off file is refused rather than half restored. Values keep their types: date-times and dates as ISO 8601 text,
enums as their values, JSON columns as JSON, binary as base64, decimals as text.

A restore goes into an empty database migrated to the same revision, in one transaction. A foreign key that points at
a table not restored yet (scenario.current_version_id ↔ scenario_version) is written NULL first and set once every row
is in; on PostgreSQL each id sequence then continues after the largest restored id.
"""

import base64
import enum
import gzip
import json
import os
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path

import click
from flask import current_app
from sqlalchemy import JSON, Date, DateTime, Enum, LargeBinary, Numeric, Time, bindparam, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from academy.core.models import utcnow
from academy.extensions import db

FORMAT = "wb-cyber-academy-backup"
VERSION = 1
BATCH = 1000


class BackupError(click.ClickException):
    """A backup or restore that cannot go ahead; the message says why and what to do."""


def schema_head() -> str | None:
    """The newest revision of the migrations this code ships with (None if it shipped none)."""
    from alembic.script import ScriptDirectory  # Alembic is imported by what uses it: pages never do

    config = current_app.extensions["migrate"].migrate.get_config()
    return ScriptDirectory.from_config(config).get_current_head()


def database_revision(connection: Connection) -> str | None:
    from alembic.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


# Not data: the health check rewrites its probe row every few seconds (core/health.py), in any database, and the
# lease names the process of this database's server that releases scheduled injects (tabletop/ticker.py).
NOT_BACKED_UP = {"health_probe", "ticker_lease"}


def tables():
    return [table for table in db.metadata.sorted_tables if table.name not in NOT_BACKED_UP]


# --- writing ---------------------------------------------------------------------------------------------------------


def encode(value):
    """A column value as JSON can carry it; `decoder(column)` turns it back."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (bytes, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    return value


def write_backup(path: Path) -> dict[str, int]:
    """Write every row of every table to `path` (through a temporary file); returns the rows per table."""
    partial = path.with_name(path.name + ".partial")
    counts: dict[str, int] = {}
    with db.engine.connect() as connection:
        _snapshot(connection)
        revision = database_revision(connection)
        head = schema_head()
        if revision != head:
            raise BackupError(
                f"The database is at revision {revision or '(none)'} but this code's schema is {head}: "
                "run `flask db upgrade` first (a database made without migrations: `flask db stamp "
                "head`)."
            )
        header = {
            "format": FORMAT,
            "version": VERSION,
            "revision": revision,
            "dialect": connection.dialect.name,
            "created_at": utcnow().isoformat(timespec="seconds") + "Z",
            "tables": [table.name for table in tables()],
        }
        try:
            with gzip.open(partial, "wt", encoding="utf-8") as out:
                out.write(_line(header))
                for table in tables():
                    counts[table.name] = _write_table(connection, table, out)
                out.write(_line({"end": True, "rows": counts}))
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        finally:
            connection.rollback()
    os.replace(partial, path)
    return counts


def _snapshot(connection: Connection) -> None:
    # Every table read in one transaction sees the same moment, even while the academy keeps running.
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN")  # pysqlite would only open one for a write
    elif connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")


def _write_table(connection: Connection, table, out) -> int:
    columns = [column.name for column in table.columns]
    out.write(_line({"table": table.name, "columns": columns}))
    query = select(table).order_by(*table.primary_key.columns)
    count = 0
    for row in connection.execution_options(yield_per=BATCH).execute(query):
        out.write(_line([encode(value) for value in row]))
        count += 1
    return count


def _line(item) -> str:
    return json.dumps(item, ensure_ascii=False, separators=(",", ":")) + "\n"


# --- reading ---------------------------------------------------------------------------------------------------------


def decoder(column):
    """The function that turns a value of `encode` back into what the column holds."""
    kind = column.type
    if isinstance(kind, Enum) and kind.enum_class is not None:
        return kind.enum_class
    if isinstance(kind, DateTime):
        return datetime.fromisoformat
    if isinstance(kind, Date):
        return date.fromisoformat
    if isinstance(kind, Time):
        return time.fromisoformat
    if isinstance(kind, LargeBinary):
        return base64.b64decode
    if isinstance(kind, Numeric) and kind.asdecimal:
        return Decimal
    return None


def restore_backup(path: Path) -> dict[str, int]:
    """Load a backup into this empty, migrated database, all or nothing; returns the rows per table."""
    with gzip.open(path, "rt", encoding="utf-8") as lines, db.engine.connect() as connection:
        header = _read_header(lines)
        try:
            with connection.begin():
                _check_target(connection, header)
                counts, deferred = _insert_all(connection, lines)
                for table, rows in deferred.items():
                    _set_deferred(connection, table, rows)
                if connection.dialect.name == "postgresql":
                    _reset_sequences(connection)
        except (EOFError, OSError, ValueError) as error:  # a damaged file: gzip or JSON cut off or garbled
            raise BackupError(f"The backup file is damaged ({error}); nothing was restored.") from None
        except DBAPIError as error:
            raise BackupError(f"The database refused a row ({error.orig}); nothing was restored.") from None
    return counts


def _read_header(lines) -> dict:
    try:
        header = json.loads(next(lines))
    except (StopIteration, ValueError, OSError, EOFError) as error:
        raise BackupError(f"This is not an academy backup: {error or 'the file is empty'}.") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise BackupError("This is not an academy backup (no header line).")
    if header.get("version") != VERSION:
        raise BackupError(
            f"Backup format version {header.get('version')} is not supported (this code reads version {VERSION})."
        )
    return header


def _check_target(connection: Connection, header: dict) -> None:
    """Refuse a database at another revision or with any row in it."""
    revision, head = database_revision(connection), schema_head()
    if header["revision"] != head:
        raise BackupError(
            f"The backup is of schema revision {header['revision']}, this code's is {head}: restore "
            "with the version of the academy that wrote the backup, then upgrade."
        )
    if revision != header["revision"]:
        raise BackupError(
            f"The database is at revision {revision or '(none)'}, the backup at {header['revision']}: "
            "run `flask db upgrade` on an empty database first."
        )
    filled = [table.name for table in tables() if connection.scalar(select(func.count()).select_from(table))]
    if filled:
        raise BackupError(
            f"The database is not empty (rows in {', '.join(filled)}): restore only into a new, migrated database."
        )


def _insert_all(connection: Connection, lines) -> tuple[dict[str, int], dict]:
    """Insert every table's rows in file order; foreign keys to later tables come back as `deferred` updates."""
    counts: dict[str, int] = {}
    deferred: dict = {}
    loaded: set[str] = set()
    batch, plan = [], None
    for number, raw in enumerate(lines, start=2):
        item = json.loads(raw)
        if isinstance(item, list):
            if plan is None:
                raise BackupError(f"Line {number}: a row before any table line.")
            batch.append(plan.row(item))
            if len(batch) >= BATCH:
                plan.insert(connection, batch)
                batch = []
            counts[plan.table.name] += 1
            continue
        if plan is not None:
            plan.insert(connection, batch)
            batch = []
            loaded.add(plan.table.name)
        if item.get("end"):
            _check_counts(counts, item.get("rows", {}))
            return counts, deferred
        table = _table(item["table"], number)
        plan = _TablePlan(table, item["columns"], loaded, deferred.setdefault(table, []))
        counts[table.name] = 0
    raise BackupError("The backup file ends early (no closing line): it was cut off while being written or copied.")


def _table(name: str, number: int):
    table = db.metadata.tables.get(name)
    if table is None:
        raise BackupError(f"Line {number}: table {name} is not part of this schema.")
    return table


def _check_counts(counts: dict[str, int], expected: dict[str, int]) -> None:
    if counts != expected:
        raise BackupError(f"The backup's rows do not add up (read {counts}, the file says {expected}).")


class _TablePlan:
    """How one table's rows go in: decoded by column type, forward foreign keys held back as NULL."""

    def __init__(self, table, columns: list[str], loaded: set[str], deferred: list):
        unknown = [name for name in columns if name not in table.columns]
        if unknown:
            raise BackupError(f"Table {table.name} has no column {', '.join(unknown)} in this schema.")
        self.table, self.columns, self.deferred = table, columns, deferred
        self.decoders = [decoder(table.columns[name]) for name in columns]
        self.later = {
            n
            for n, name in enumerate(columns)
            if any(fk.column.table.name not in loaded for fk in table.columns[name].foreign_keys)
        }
        self.keys = [columns.index(column.name) for column in table.primary_key.columns]
        # Parameters named p0, p1 … (not after the columns, which SQLAlchemy keeps for itself); JSON columns take
        # None as SQL NULL, as an absent value was stored.
        self.statement = table.insert().values(
            {name: bindparam(f"p{n}", type_=_bind_type(table.columns[name])) for n, name in enumerate(columns)}
        )

    def row(self, values: list) -> dict:
        values = [
            value if value is None or convert is None else convert(value)
            for value, convert in zip(values, self.decoders, strict=False)
        ]
        if self.later:
            held = {self.columns[n]: values[n] for n in self.later if values[n] is not None}
            if held:
                self.deferred.append(({self.columns[n]: values[n] for n in self.keys}, held))
            values = [None if n in self.later else value for n, value in enumerate(values)]
        return {f"p{n}": value for n, value in enumerate(values)}

    def insert(self, connection: Connection, batch: list[dict]) -> None:
        if batch:
            connection.execute(self.statement, batch)


def _bind_type(column):
    if isinstance(column.type, JSON) and column.nullable:
        return JSON(none_as_null=True)
    return column.type


def _set_deferred(connection: Connection, table, rows: list) -> None:
    for keys, values in rows:
        connection.execute(table.update().where(*(table.columns[k] == v for k, v in keys.items())).values(values))


def _reset_sequences(connection: Connection) -> None:
    """Let PostgreSQL number new rows after the restored ones."""
    for table in tables():
        column = table.autoincrement_column
        if column is None:
            continue
        quoted = connection.dialect.identifier_preparer.format_table(table)
        connection.execute(
            select(
                func.setval(
                    func.pg_get_serial_sequence(quoted, column.name),
                    func.coalesce(func.max(column), 1),
                    func.max(column).is_not(None),
                )
            ).select_from(table)
        )


# --- commands --------------------------------------------------------------------------------------------------------


@click.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, writable=True, path_type=Path))
def backup_command(file: Path) -> None:
    """Write the whole database to FILE (gzipped JSON Lines), readable by `restore` on any engine."""
    counts = write_backup(file)
    click.echo(f"Backed up {sum(counts.values())} rows of {len(counts)} tables to {file}.")


@click.command("restore")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def restore_command(file: Path) -> None:
    """Load a backup FILE into this empty database, migrated to the backup's revision (`flask db upgrade`)."""
    counts = restore_backup(file)
    click.echo(f"Restored {sum(counts.values())} rows of {len(counts)} tables from {file}.")


def init_app(app) -> None:
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)
