"""The change feed's vocabulary: the kinds of change and the signal that carries each one.

The SQL pipeline sends ``change_recorded`` once per change, after the transaction holding it
committed, with ``change`` (a ``ProductChange``), ``targets`` (the keys of every crawl target
that listed or asked for the product: a watchlist's entries may share one) and ``target`` (the
first of them, or None). The feed exporter and the alerts listen to it; changes never pass
through ``item_scraped``, so they count in no product figure.
"""

from __future__ import annotations

#: Every kind of change, in the order reports list them.
KINDS = (
    "new", "removed", "price", "out_of_stock", "back_in_stock", "stock",
    "sku_added", "sku_removed", "title", "status",
)

change_recorded = object()

#: Sent by a spider when a product's detail answers that it does not exist (offline or
#: deleted), with ``product_id``: the database records it ``removed``.
offer_gone = object()
