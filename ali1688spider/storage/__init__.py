"""The crawl database (SQLAlchemy 2; SQLite and PostgreSQL): schema, item records, store, queries."""
