"""Tables of the crawl database, its portable column types, and schema creation/versioning.

The schema is created on first use; ``ali1688_schema_version`` records which version a
database has so later releases can migrate it (``MIGRATIONS``) instead of guessing.
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Callable

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    func,
    select,
    text,
)
from sqlalchemy.types import TypeDecorator

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Dialect, Engine

SCHEMA_VERSION = 6


class SchemaError(RuntimeError):
    """The database's schema is not one this version can use."""


class Price(TypeDecorator):
    """An exact decimal: NUMERIC on PostgreSQL; canonical text on SQLite, which has no
    exact decimal type (its NUMERIC would round "0.1" through a float)."""

    impl = Numeric
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String())
        return dialect.type_descriptor(Numeric(asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        # Canonical, so "2.30" and "2.3" are one stored value on every backend.
        number = Decimal(str(value))
        canonical = format(number.normalize(), "f") if number else "0"
        return canonical if dialect.name == "sqlite" else Decimal(canonical)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(str(value))


class Timestamp(TypeDecorator):
    """An aware datetime: ``timestamptz`` on PostgreSQL; fixed-width UTC ISO text on SQLite,
    so that text order is time order (``--since`` compares them)."""

    impl = String
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String())
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        moment = datetime.fromisoformat(value) if isinstance(value, str) else value
        if moment.tzinfo is None:
            raise ValueError(f"timestamp without a UTC offset: {value!r}")
        if dialect.name == "sqlite":
            return moment.astimezone(timezone.utc).isoformat(timespec="microseconds")
        return moment

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        moment = datetime.fromisoformat(value) if isinstance(value, str) else value
        return moment.astimezone(timezone.utc)


# SQLite only auto-increments an INTEGER PRIMARY KEY.
Serial = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData()

schema_version = Table(
    "ali1688_schema_version",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("applied_at", Timestamp, nullable=False),
)

crawl_runs = Table(
    "crawl_runs",
    metadata,
    Column("run_id", Serial, primary_key=True, autoincrement=True),
    Column("spider", String, nullable=False),
    Column("started_at", Timestamp, nullable=False),
    Column("finished_at", Timestamp),
    Column("finish_reason", String),
    # Counted in the same transaction as each batch, so they are true even after a crash.
    Column("items_stored", Integer, nullable=False, server_default="0"),
    Column("products_new", Integer, nullable=False, server_default="0"),
    Column("products_changed", Integer, nullable=False, server_default="0"),
    Column("products_unchanged", Integer, nullable=False, server_default="0"),
    Column("price_changes", Integer, nullable=False, server_default="0"),
    # Calls the run made, written when it finishes (schema version 5): what the daily quota
    # has left today, and what freshness costs.
    Column("calls", BigInteger),
)

# What each target of a finished run spent (schema version 5): calls per change found.
run_targets = Table(
    "run_targets",
    metadata,
    Column("id", Serial, primary_key=True, autoincrement=True),
    Column("run_id", BigInteger, ForeignKey("crawl_runs.run_id"), nullable=False, index=True),
    Column("target", String, nullable=False),
    # The shop the target lists whole, if it does: its products' changes are the target's.
    Column("seller_open_id", String),
    Column("calls", BigInteger, nullable=False),
    Column("listing_calls", BigInteger, nullable=False),
)

products = Table(
    "products",
    metadata,
    Column("product_id", String, primary_key=True),
    Column("seller_open_id", String, index=True),
    Column("member_id", String),
    Column("title", String),
    Column("category_id", String, index=True),
    Column("status", String),
    Column("price_min", Price),
    Column("price_max", Price),
    Column("moq", BigInteger),
    Column("unit", String),
    Column("stock", BigInteger),
    Column("sales", BigInteger),
    Column("images", JSON),
    Column("detail_url", String),
    Column("created_at", Timestamp),
    Column("modified_at", Timestamp),
    Column("source_api", String),
    # Bookkeeping: a row changes only when the product does, so re-crawls leave it identical.
    Column("first_run_id", BigInteger, ForeignKey("crawl_runs.run_id")),
    Column("first_seen_at", Timestamp),
    Column("changed_run_id", BigInteger, ForeignKey("crawl_runs.run_id")),
    Column("changed_at", Timestamp),
    Column("skus_hash", String),
    Column("tiers_hash", String),
    # Every price of the product (span, tiers, per-SKU) as last stored: what a change is
    # measured against.
    Column("prices", JSON),
    # Set when a complete listing of its shop no longer held it (or its detail said it is
    # gone); cleared when it is seen again. Schema version 2.
    Column("removed_at", Timestamp),
    Column("removed_run_id", BigInteger, ForeignKey("crawl_runs.run_id")),
    # Set when a complete listing of its shop lacked it (a suspect, not yet removed); cleared
    # when a later listing holds it. Schema version 3.
    Column("suspected_at", Timestamp),
    Column("suspected_run_id", BigInteger, ForeignKey("crawl_runs.run_id")),
    # When a detail call last answered for it (set even when nothing changed): what
    # ``details=changed`` measures a detail's age by. Schema version 4.
    Column("detail_at", Timestamp),
)

skus = Table(
    "skus",
    metadata,
    Column("product_id", String, ForeignKey("products.product_id"), primary_key=True),
    Column("sku_id", String, primary_key=True),
    Column("position", Integer, nullable=False),
    Column("spec_id", String),
    Column("attributes", JSON),
    Column("price", Price),
    Column("stock", BigInteger),
    Column("sku_code", String),
)

price_tiers = Table(
    "price_tiers",
    metadata,
    Column("product_id", String, ForeignKey("products.product_id"), primary_key=True),
    Column("min_quantity", BigInteger, primary_key=True, autoincrement=False),
    Column("price", Price, nullable=False),
)

price_history = Table(
    "price_history",
    metadata,
    Column("id", Serial, primary_key=True, autoincrement=True),
    Column("product_id", String, ForeignKey("products.product_id"), nullable=False),
    Column("run_id", BigInteger, ForeignKey("crawl_runs.run_id"), nullable=False),
    Column("observed_at", Timestamp, nullable=False),
    # "first": the price a product was first seen at; "change": a later, different price.
    Column("kind", String, nullable=False),
    Column("price_min", Price),
    Column("price_max", Price),
    Column("previous_price_min", Price),
    Column("previous_price_max", Price),
    Column("prices", JSON, nullable=False),
    Index("ix_price_history_product", "product_id", "observed_at"),
    Index("ix_price_history_observed", "observed_at"),
)

product_changes = Table(
    "product_changes",
    metadata,
    Column("id", Serial, primary_key=True, autoincrement=True),
    Column("run_id", BigInteger, ForeignKey("crawl_runs.run_id"), nullable=False),
    Column("product_id", String, ForeignKey("products.product_id"), nullable=False),
    Column("kind", String, nullable=False),
    Column("sku_id", String),
    Column("old", JSON),
    Column("new", JSON),
    Column("change_pct", Price),
    Column("detected_at", Timestamp, nullable=False),
    Column("seller_open_id", String),
    Column("title", String),
    Index("ix_product_changes_run", "run_id", "id"),
    Index("ix_product_changes_product", "product_id", "detected_at"),
)

# A product's sales, stock and lowest price over time, one row per run in which one of them
# moved: what competitor analyses compare. Old rows are compacted to one a day (retention).
# Schema version 4.
observations = Table(
    "observations",
    metadata,
    Column("id", Serial, primary_key=True, autoincrement=True),
    Column("product_id", String, ForeignKey("products.product_id"), nullable=False),
    Column("run_id", BigInteger, ForeignKey("crawl_runs.run_id"), nullable=False),
    Column("observed_at", Timestamp, nullable=False),
    Column("sales", BigInteger),
    Column("stock", BigInteger),
    Column("price_min", Price),
    Index("ix_observations_product", "product_id", "observed_at"),
    Index("ix_observations_observed", "observed_at"),
)

# Which products each search returned, in the platform's order, per keyword and run: what
# ``ali1688 report keyword`` compares suppliers over. Schema version 6.
search_results = Table(
    "search_results",
    metadata,
    Column("run_id", BigInteger, ForeignKey("crawl_runs.run_id"), primary_key=True, autoincrement=False),
    Column("keyword", String, primary_key=True),
    Column("product_id", String, primary_key=True),
    Column("position", Integer, nullable=False),
    Index("ix_search_results_keyword", "keyword", "run_id"),
)

categories = Table(
    "categories",
    metadata,
    Column("category_id", String, primary_key=True),
    Column("parent_id", String),
    Column("name", String),
    Column("level", Integer),
    Column("is_leaf", Boolean),
)



def _add_columns(connection: Connection, table: Table, *names: str) -> None:
    """``ALTER TABLE … ADD COLUMN`` for columns of *table* that an older schema lacks."""
    for name in names:
        column = table.c[name]
        kind = column.type.dialect_impl(connection.dialect).compile(dialect=connection.dialect)
        references = ""
        for key in column.foreign_keys:
            references = f" REFERENCES {key.column.table.name} ({key.column.name})"
        connection.execute(text(f"ALTER TABLE {table.name} ADD COLUMN {name} {kind}{references}"))


def _version_2(connection: Connection) -> None:
    """The change feed: ``product_changes`` and the products' removal marks."""
    _add_columns(connection, products, "removed_at", "removed_run_id")
    product_changes.create(connection)


def _version_3(connection: Connection) -> None:
    """Removal on proof: the products' suspect marks."""
    _add_columns(connection, products, "suspected_at", "suspected_run_id")


def _version_4(connection: Connection) -> None:
    """Details only where something changed, and history for competitor analysis: when each
    product's detail last answered, and ``observations``."""
    _add_columns(connection, products, "detail_at")
    observations.create(connection)


def _version_5(connection: Connection) -> None:
    """Calls spent per run and per target: the quota planner's and freshness report's figures."""
    _add_columns(connection, crawl_runs, "calls")
    run_targets.create(connection)


def _version_6(connection: Connection) -> None:
    """The keyword report: ``search_results``."""
    search_results.create(connection)


#: version -> step that brings a database from version - 1 to it.
MIGRATIONS: dict[int, Callable[[Connection], None]] = {
    2: _version_2, 3: _version_3, 4: _version_4, 5: _version_5, 6: _version_6,
}
# Any constant: serializes schema creation between crawls that start at the same moment.
_ADVISORY_LOCK = 1688_0001


def database_version(connection: Connection) -> int | None:
    """The schema version recorded in the database, or None for a database without one."""
    if not connection.dialect.has_table(connection, schema_version.name):
        return None
    return connection.execute(select(func.max(schema_version.c.version))).scalar()


def ensure_schema(engine: Engine) -> int:
    """Create the tables on first use, or migrate an older schema; returns the version."""
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK})
        version = database_version(connection)
        if version is not None and version > SCHEMA_VERSION:
            raise SchemaError(
                f"the database has schema version {version}, newer than this ali1688spider "
                f"understands ({SCHEMA_VERSION}): upgrade ali1688spider"
            )
        if version is None:
            metadata.create_all(connection)
            version = SCHEMA_VERSION
            connection.execute(
                schema_version.insert(), {"version": version, "applied_at": datetime.now(timezone.utc)}
            )
        while version < SCHEMA_VERSION:
            version += 1
            MIGRATIONS[version](connection)
            connection.execute(
                schema_version.insert(), {"version": version, "applied_at": datetime.now(timezone.utc)}
            )
    return version
