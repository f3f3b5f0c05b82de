"""Completeness accounting: the ledger, the crawl report pipeline and progress lines."""
