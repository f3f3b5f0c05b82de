"""The ``categories`` spider: the 1688 category tree from ``root=`` down ``depth=`` levels.

``alibaba.category.get`` needs no access token (reference §6.1), so the spider runs with an
app key and secret alone. One call per category that has children: its answer lists them.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ali1688spider.api.catalogue import CATEGORY_API
from ali1688spider.api.normalize import normalize_category
from ali1688spider.gateway.request import PARAMS_META_KEY
from ali1688spider.items import Category
from ali1688spider.spiders.arguments import (
    Argument,
    as_non_negative_int,
    as_positive_int,
)
from ali1688spider.spiders.base import Ali1688Spider

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from scrapy import Request
    from scrapy.http import Response

logger = logging.getLogger(__name__)

# 1688's tree has three levels; climbing further means the answers loop.
MAX_LEVELS = 3


class CategoriesSpider(Ali1688Spider):
    """One ``Category`` per node: the root (unless 0, the virtual top) and its descendants."""

    name = "categories"
    arguments = {
        "root": Argument(as_non_negative_int, "a category id, or 0 for the whole tree", 0),
        "depth": Argument(as_positive_int, "how many levels below root to walk (> 0)", 3),
    }

    def requests_for(self, args: dict[str, Any]) -> Iterator[Request]:
        if args["root"] == 0:
            yield self.category_request(0, self.parse_children, level=0, remaining=args["depth"])
        else:
            yield self.category_request(args["root"], self.parse_root, remaining=args["depth"])

    def category_request(
        self, category_id: int, callback: Callable[..., Any], **kwargs: Any
    ) -> Request:
        return self.api_request(
            CATEGORY_API, {"categoryID": category_id}, callback=callback, cb_kwargs=kwargs
        )

    def parse_root(
        self, response: Response, remaining: int, climbed: int = 0, root: dict | None = None
    ) -> Iterator[Any]:
        """The start category. 1688 answers no level, so its level is found by asking for
        its ancestors up to the top (at most two more calls)."""
        entry = self.entry_of(response)
        if entry is None:
            return
        root = root or entry
        node, _ = normalize_category(CATEGORY_API, entry)
        if node["level"] is not None or node["parent_id"] in (None, "0") or climbed >= MAX_LEVELS:
            level = node["level"] + climbed if node["level"] is not None else climbed + 1
            yield from self.walk(root, level, remaining, include_node=True)
            return
        if not node["parent_id"].isdigit():
            self.count_anomalies(["parent_id"])
            return
        yield self.category_request(
            int(node["parent_id"]), self.parse_root,
            remaining=remaining, climbed=climbed + 1, root=root,
        )

    def parse_children(self, response: Response, level: int, remaining: int) -> Iterator[Any]:
        entry = self.entry_of(response)
        if entry is not None:
            yield from self.walk(entry, level, remaining, include_node=False)

    def walk(self, entry: dict, level: int, remaining: int, *, include_node: bool) -> Iterator[Any]:
        """The node of *entry* (if asked), its children, and the calls for their children."""
        node, anomalies = normalize_category(CATEGORY_API, entry, level=level)
        if include_node:
            # Not the virtual top (id 0), which has no name to check.
            self.count_anomalies(anomalies)
            yield Category(node)
        children = entry.get("childCategorys")
        for child_entry in children if isinstance(children, list) else []:
            child, anomalies = normalize_category(
                CATEGORY_API, child_entry, parent_id=node["category_id"], level=level + 1
            )
            self.count_anomalies(anomalies)
            yield Category(child)
            child_id = child["category_id"]
            if remaining > 1 and child["is_leaf"] is not True and child_id and child_id.isdigit():
                yield self.category_request(
                    int(child_id), self.parse_children, level=level + 1, remaining=remaining - 1
                )

    def entry_of(self, response: Response) -> dict | None:
        """The ``categoryInfo[0]`` of an answer: the category asked for, with its children."""
        payload = self.payload(response)
        entries = payload.get("categoryInfo") if isinstance(payload, dict) else None
        if not isinstance(entries, list) or not entries or not isinstance(entries[0], dict):
            self.count_anomalies(["categoryInfo"])
            logger.warning(
                "%s answered no category for %s", CATEGORY_API, response.meta.get(PARAMS_META_KEY)
            )
            return None
        return entries[0]
