"""The ``shop`` spider (``spider``), its jobs, the listing splitter and incremental sync state."""
