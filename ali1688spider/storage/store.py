"""The crawl database: engine set-up per backend, crawl runs, and one transaction per batch.

A batch is written in ONE transaction (products, their SKUs and tiers, price history, the
run's counters): after a crash a batch is either entirely in the database or not at all.
Blocking calls: use a Store from one worker thread, never from the reactor thread.
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, bindparam, create_engine, delete, event, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from ali1688spider.config import DB_URL_SETTING
from ali1688spider.redact import url_without_password
from ali1688spider.storage import schema
from ali1688spider.storage.changes import REMOVAL_COLUMNS, detect_changes, removal
from ali1688spider.storage.errors import StorageError, describe_error
from ali1688spider.storage.records import plan_product

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Mapping, Sequence

    from sqlalchemy import Select
    from sqlalchemy.engine import URL, Connection, Engine

    from ali1688spider.storage.records import ProductRecord


SETTING = DB_URL_SETTING
_DIALECT_INSERT = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}


#: What a valid value looks like, in every message about a bad one.
EXAMPLE_URLS = "e.g. sqlite:///ali1688.db or postgresql://user@localhost/ali1688"
#: Each database driver's importable module and the extra of this package that installs it.
DRIVER_EXTRAS = {"psycopg": ("psycopg", "postgres")}


def database_url(url: str, *, option: str = SETTING) -> URL:
    """Parse *url*; a bare ``postgresql://`` uses psycopg 3 (the driver this project ships).
    StorageError naming *option* (the setting or flag the URL came from), with an example."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StorageError(
            f"{option} is not a database URL: {url.split('@')[-1]!r} ({EXAMPLE_URLS})"
        ) from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in _DIALECT_INSERT:
        raise StorageError(
            f"{option} must be a SQLite or PostgreSQL URL ({EXAMPLE_URLS}), got {parsed.get_backend_name()!r}"
        )
    if parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:"):
        # Nothing would outlive it, and the crawl's writer process could not see it.
        raise StorageError(f"{option} {url!r} is an in-memory database: name a file ({EXAMPLE_URLS})")
    return parsed


def check_database_url(url: str, *, option: str = SETTING) -> None:
    """StorageError (one line, with the ``pip install`` command) when *url* is malformed or its
    driver is not installed: checked before a crawl makes its first call."""
    parsed = database_url(url, option=option)
    module, extra = DRIVER_EXTRAS.get(parsed.get_driver_name(), (None, None))
    if module and importlib.util.find_spec(module) is None:
        raise StorageError(
            f"{option} {describe_url(parsed)} needs the {module} driver: pip install 'ali1688spider[{extra}]'"
        )


def describe_url(url: URL) -> str:
    """*url* for logs and errors: no password, neither in the user part nor in the query."""
    return url_without_password(url.render_as_string())


def _json(value: Any) -> str:
    # Chinese attribute names stay readable in the database.
    return json.dumps(value, ensure_ascii=False)


#: WAL pages a SQLite writer lets accumulate before it copies them into the database file
#: (SQLite's default is 1,000, about 4 MB). A batch dirties index pages all over a large
#: file; checkpointing ten times less often writes (and syncs) each hot page back once instead
#: of many times: storing 150,000 listing entries took 0.81 to 0.89 x the wall time
#: (``bench/sqlite_writer.py``). The WAL file then grows to about 40 MB during a crawl.
WAL_CHECKPOINT_PAGES = 10_000


def make_engine(url: str, *, writer: bool = True) -> Engine:
    """An engine for *url*. On SQLite: WAL (readers such as ``ali1688 report`` do not block
    the crawl) with ``synchronous=NORMAL`` and, for a *writer*, ``BEGIN IMMEDIATE`` so a batch
    never fails half-way on a lock upgrade when two processes share one file, and checkpoints
    every ``WAL_CHECKPOINT_PAGES``."""
    parsed = database_url(url)
    try:
        if parsed.get_backend_name() == "sqlite":
            return _sqlite_engine(parsed, writer=writer)
        return create_engine(parsed, pool_pre_ping=True, json_serializer=_json)
    except (ArgumentError, NoSuchModuleError) as exc:
        raise StorageError(f"cannot use {SETTING} {describe_url(parsed)}: {exc}") from None


def _sqlite_engine(url: URL, *, writer: bool) -> Engine:
    if writer and url.database and url.database != ":memory:":
        Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 60}, json_serializer=_json)
    begin = "BEGIN IMMEDIATE" if writer else "BEGIN"

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN, not the driver's own guesswork.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # In WAL mode NORMAL syncs the log at checkpoints, not at every commit: a committed
        # batch survives the process being killed, and the file is never corrupted; a power
        # cut or OS crash may undo the last batches committed before it (FULL would keep them,
        # at one fsync per batch).
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        if writer:
            cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        connection.exec_driver_sql(begin)

    return engine


def _locked(connection: Connection, query: Select) -> Select:
    """*query* locking the rows it reads until the transaction ends (PostgreSQL; a SQLite
    writer holds the whole database from ``BEGIN IMMEDIATE`` on). A writer that waited for a
    lock sees the rows as the other transaction left them, so no change is recorded twice."""
    return query.with_for_update() if connection.dialect.name == "postgresql" else query


@dataclass
class BatchResult:
    """What one committed batch did (added to the crawl stats)."""

    stored: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    price_changes: int = 0
    categories: int = 0
    #: The ``product_changes`` rows the batch committed.
    changes: list[dict[str, Any]] = field(default_factory=list)


#: Rows per statement when many products are named at once (SQLite allows 32,766 parameters).
CHUNK = 1000


@dataclass(frozen=True)
class ListingScope:
    """A complete listing of a whole shop: the stored products whose *column* is *value*
    are judged against it. *seen*: ids this run listed, stored or asked for anywhere (never
    suspects); *began*: when the listing began (a product first stored or changed after
    then was published or stored by someone else meanwhile, not removed). Times are whole
    seconds: one stored in the second the listing began counts as before it, so a crawl
    started in the second the previous one ended still judges that one's products (a
    concurrent crawl's product of that second becomes a suspect at worst, never removed)."""

    column: str
    value: str
    listed: Collection[str]
    seen: Callable[[str], bool]
    began: datetime


@dataclass(frozen=True)
class Absence:
    """The stored products of a shop against one complete listing of it."""

    #: Stored, not removed products of the shop.
    stored: int
    #: ``(product_id, suspected before)`` of those the listing lacked.
    absent: list[tuple[str, bool]]
    #: Earlier suspects the listing (or this run) holds again.
    cleared: list[str]


@dataclass
class Settlement:
    """What one complete listing did to its shop's stored products."""

    changes: list[dict[str, Any]] = field(default_factory=list)
    #: Products newly suspected (absent once: removed if the next complete listing lacks them).
    suspects: int = 0
    #: When set, that many products were absent, too many to trust the listing: nothing done.
    withheld: int | None = None
    stored: int = 0


@cache
def _absence_queries(column: str) -> tuple[Select, Select]:
    """How many products of a shop (``value``) are stored, and those a listing begun at
    ``began`` may lack or clear. Built once per shop column: a watchlist's close judges
    dozens of listings, and building the statements cost more than running them."""
    products = schema.products
    shop = (products.c[column] == bindparam("value"), products.c.removed_at.is_(None))
    began = bindparam("began", type_=schema.Timestamp())
    # A product first stored or changed after the listing began can be neither absent nor,
    # unless suspected, cleared: the database leaves it out (a first crawl reads no row back).
    settled = and_(
        or_(products.c.first_seen_at.is_(None), products.c.first_seen_at <= began),
        or_(products.c.changed_at.is_(None), products.c.changed_at <= began),
    )
    suspected = products.c.suspected_at.is_not(None)
    return (select(func.count()).where(*shop),
            select(products.c.product_id, suspected, settled).where(*shop, or_(suspected, settled)))


def _absence(connection: Connection, listing: ListingScope) -> Absence:
    count, candidates = _absence_queries(listing.column)
    parameters = {"value": listing.value, "began": listing.began}
    stored = connection.execute(count, parameters).scalar_one()
    absent, cleared = [], []
    for product_id, suspected, settled in connection.execute(candidates, parameters):
        if product_id in listing.listed or listing.seen(product_id):
            if suspected:
                cleared.append(product_id)
        elif settled:
            absent.append((product_id, bool(suspected)))
    return Absence(stored, absent, cleared)


class Store:
    """Products, SKUs, tiers, price history, changes, categories and crawl runs in one database.

    With *detect_changes*, every batch also records what changed about its products
    (``product_changes``, in the same transaction).
    """

    def __init__(self, url: str, *, detect_changes: bool = True):
        self.engine = make_engine(url)
        self.url = describe_url(self.engine.url)
        self.detect_changes = detect_changes

    def open(self) -> int:
        """Connect and create/migrate the schema; StorageError when that is impossible."""
        try:
            return schema.ensure_schema(self.engine)
        except (SQLAlchemyError, schema.SchemaError) as exc:
            raise StorageError(f"cannot use {SETTING} {self.url}: {describe_error(exc)}") from None

    def start_run(self, spider: str, started_at: datetime) -> int:
        with self.engine.begin() as connection:
            result = connection.execute(
                schema.crawl_runs.insert().returning(schema.crawl_runs.c.run_id),
                {"spider": spider, "started_at": started_at},
            )
            return int(result.scalar_one())

    def finish_run(
        self, run_id: int, *, reason: str, finished_at: datetime | None = None,
        calls: int | None = None, targets: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        """Mark the run finished with its *calls*, and record what each of its *targets*
        (``run_targets`` rows without ``run_id``) spent."""
        with self.engine.begin() as connection:
            connection.execute(
                update(schema.crawl_runs)
                .where(schema.crawl_runs.c.run_id == run_id)
                .values(finished_at=finished_at or datetime.now(timezone.utc), finish_reason=reason, calls=calls)
            )
            if targets:
                connection.execute(schema.run_targets.insert(), [{**row, "run_id": run_id} for row in targets])

    def write(
        self,
        run_id: int,
        products: Sequence[ProductRecord] = (),
        categories: Sequence[Mapping[str, Any]] = (),
    ) -> BatchResult:
        """Store one batch in one transaction; idempotent (storing it again changes nothing)."""
        result = BatchResult()
        with self.engine.begin() as connection:
            if products:
                self._write_products(connection, run_id, products, result)
            if categories:
                rows = list({row["category_id"]: dict(row) for row in categories}.values())
                self._upsert(connection, schema.categories, "category_id", rows)
                result.categories = len(categories)
            connection.execute(
                update(schema.crawl_runs)
                .where(schema.crawl_runs.c.run_id == run_id)
                .values(
                    items_stored=schema.crawl_runs.c.items_stored + result.stored,
                    products_new=schema.crawl_runs.c.products_new + result.new,
                    products_changed=schema.crawl_runs.c.products_changed + result.changed,
                    products_unchanged=schema.crawl_runs.c.products_unchanged + result.unchanged,
                    price_changes=schema.crawl_runs.c.price_changes + result.price_changes,
                )
            )
        return result

    def _write_products(
        self, connection: Connection, run_id: int, records: Sequence[ProductRecord], result: BatchResult
    ) -> None:
        latest = {record.product_id: record for record in records}
        # Sorted, so concurrent writers lock rows in the same order (no deadlock).
        ids = sorted(latest)
        query = select(schema.products).where(schema.products.c.product_id.in_(ids))
        stored = {row.product_id: row._mapping for row in connection.execute(_locked(connection, query))}
        old_skus = self._stored_skus(connection, latest, stored) if self.detect_changes else {}
        rows, history, observed, skus, tiers = [], [], [], {}, {}
        for product_id in ids:
            plan = plan_product(latest[product_id], stored.get(product_id), run_id)
            if self.detect_changes and plan.kind != "unchanged":
                result.changes += detect_changes(
                    latest[product_id], stored.get(product_id), run_id, stored_skus=old_skus.get(product_id)
                )
            setattr(result, plan.kind, getattr(result, plan.kind) + 1)
            if plan.row is not None:
                rows.append(plan.row)
            if plan.skus is not None:
                skus[product_id] = plan.skus
            if plan.tiers is not None:
                tiers[product_id] = plan.tiers
            if plan.observation is not None:
                observed.append(plan.observation)
            if plan.history is not None:
                history.append(plan.history)
                # A new product's first row is its starting price, not a change.
                result.price_changes += plan.kind == "changed"
        result.stored = len(records)
        self._upsert(connection, schema.products, "product_id", rows, keep=("first_run_id", "first_seen_at"))
        for table, replacements in ((schema.skus, skus), (schema.price_tiers, tiers)):
            if replacements:
                connection.execute(delete(table).where(table.c.product_id.in_(list(replacements))))
                new_rows = [row for group in replacements.values() for row in group]
                if new_rows:
                    connection.execute(table.insert(), new_rows)
        self._mark_detailed(connection, records)
        if history:
            connection.execute(schema.price_history.insert(), history)
        if observed:
            connection.execute(schema.observations.insert(), observed)
        if result.changes:
            connection.execute(schema.product_changes.insert(), result.changes)

    @staticmethod
    def _mark_detailed(connection: Connection, records: Sequence[ProductRecord]) -> None:
        """When each detail of the batch answered, unchanged products included: the age
        ``details=changed`` measures (a bookkeeping column, apart from the product's content)."""
        products = schema.products
        rows = [{"id": record.product_id, "at": record.observed_at} for record in records if record.is_detail]
        if rows:
            connection.execute(
                update(products).where(products.c.product_id == bindparam("id")).values(detail_at=bindparam("at")),
                rows,
            )

    @staticmethod
    def _stored_skus(
        connection: Connection, records: Mapping[str, ProductRecord], stored: Mapping[str, Any]
    ) -> dict[str, list[dict[str, Any]]]:
        """The stored SKU rows of the products whose SKUs this batch changes."""
        ids = [
            product_id for product_id, record in records.items()
            if record.skus is not None and product_id in stored
            and stored[product_id]["skus_hash"] not in (None, record.skus_hash)
        ]
        found: dict[str, list[dict[str, Any]]] = {product_id: [] for product_id in ids}
        table = schema.skus
        for start in range(0, len(ids), CHUNK):
            query = select(table).where(table.c.product_id.in_(ids[start:start + CHUNK]))
            for row in connection.execute(query):
                found[row.product_id].append(dict(row._mapping))
        return found

    def absent_from(self, listings: Sequence[ListingScope]) -> list[Absence]:
        """The stored products of each of *listings*' shops that it lacked (see ``Absence``),
        in one connection."""
        with self.engine.connect() as connection:
            return [_absence(connection, listing) for listing in listings]

    def settle_listings(
        self, run_id: int, listings: Sequence[ListingScope], *, gone: Collection[str], max_share: float,
        at: datetime,
    ) -> list[Settlement]:
        """Judge the stored products of each complete listing's shop, all in one transaction:
        those it lacked become suspects; a suspect it lacks again, or whose detail answered
        *gone*, is removed; one it holds again is cleared. Nothing at all for a listing that
        lacks more than *max_share* of its shop's stored products: such a listing is suspect
        itself."""
        with self.engine.begin() as connection:
            return [self._settle(connection, run_id, listing, gone, max_share, at) for listing in listings]

    def _settle(
        self, connection: Connection, run_id: int, listing: ListingScope, gone: Collection[str], max_share: float,
        at: datetime,
    ) -> Settlement:
        products = schema.products
        absence = _absence(connection, listing)
        if absence.absent and len(absence.absent) > max_share * absence.stored:
            return Settlement(withheld=len(absence.absent), stored=absence.stored)
        proven = [pid for pid, suspected in absence.absent if suspected or pid in gone]
        suspects = [pid for pid, suspected in absence.absent if not suspected and pid not in gone]
        for ids, values in ((absence.cleared, {"suspected_at": None, "suspected_run_id": None}),
                            (suspects, {"suspected_at": at, "suspected_run_id": run_id})):
            for start in range(0, len(ids), CHUNK):
                connection.execute(
                    update(products).where(products.c.product_id.in_(ids[start:start + CHUNK])).values(**values)
                )
        changes = self._mark_removed(connection, run_id, proven, at)
        return Settlement(changes=changes, suspects=len(suspects), stored=absence.stored)

    def record_search_results(self, run_id: int, results: Mapping[str, Collection[str]]) -> int:
        """Store which products each keyword's search of run *run_id* returned, in order
        (``search_results``); the number of rows."""
        rows = [{"run_id": run_id, "keyword": keyword, "product_id": product_id, "position": position}
                for keyword, product_ids in results.items()
                for position, product_id in enumerate(product_ids, start=1)]
        if rows:
            with self.engine.begin() as connection:
                connection.execute(schema.search_results.insert(), rows)
        return len(rows)

    def compact_observations(self, before: datetime) -> int:
        """Keep one observation a day (the day's last) of each product before *before*: the
        trend stays, the rows shrink. The number of rows deleted."""
        table = schema.observations
        with self.engine.begin() as connection:
            day = (func.substr(table.c.observed_at, 1, 10) if connection.dialect.name == "sqlite"
                   else func.date_trunc("day", table.c.observed_at))
            kept = (select(func.max(table.c.id)).where(table.c.observed_at < before)
                    .group_by(table.c.product_id, day))
            result = connection.execute(
                delete(table).where(table.c.observed_at < before, table.c.id.not_in(kept))
            )
            return result.rowcount or 0

    def remove_gone(self, run_id: int, product_ids: Sequence[str], at: datetime) -> list[dict[str, Any]]:
        """Mark removed the stored products whose detail answered that they do not exist."""
        with self.engine.begin() as connection:
            return self._mark_removed(connection, run_id, product_ids, at)

    def _mark_removed(
        self, connection: Connection, run_id: int, product_ids: Sequence[str], at: datetime
    ) -> list[dict[str, Any]]:
        """Mark *product_ids* removed where they are not yet; their ``removed`` changes."""
        if not self.detect_changes or not product_ids:
            return []
        products = schema.products
        columns = [products.c[name] for name in REMOVAL_COLUMNS]
        changes = []
        for start in range(0, len(product_ids), CHUNK):
            chunk = list(product_ids[start:start + CHUNK])
            query = select(*columns).where(products.c.product_id.in_(chunk), products.c.removed_at.is_(None))
            gone = [row._mapping for row in connection.execute(_locked(connection, query))]
            if not gone:
                continue
            connection.execute(
                update(products)
                .where(products.c.product_id.in_([row["product_id"] for row in gone]))
                .values(removed_at=at, removed_run_id=run_id)
            )
            changes += [removal(row, run_id, at) for row in gone]
        if changes:
            connection.execute(schema.product_changes.insert(), changes)
        return changes

    @staticmethod
    def _upsert(
        connection: Connection, table: Any, key: str, rows: list[dict[str, Any]], keep: tuple[str, ...] = ()
    ) -> None:
        """Insert *rows*, updating those whose *key* exists (a concurrent crawl may have just
        inserted one); columns in *keep* are never overwritten."""
        if not rows:
            return
        statement = _DIALECT_INSERT[connection.dialect.name](table)
        statement = statement.on_conflict_do_update(
            index_elements=[key],
            set_={name: statement.excluded[name] for name in rows[0] if name != key and name not in keep},
        )
        connection.execute(statement, rows)

    def close(self) -> None:
        self.engine.dispose()

