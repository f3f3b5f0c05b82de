"""A set of product ids in about 8 bytes each, for the bookkeeping of million-product crawls.

Product ids are decimal digit strings (1688 offer ids look like ``646942518819``). A Python set of
them costs about 90 bytes an id (the string object and the set's slot); the ledger, the dedupe
pipeline and the crash guard each keep one per product. ``ProductIdSet`` keeps a canonical id
(ASCII digits, no leading zero, below 2**64) as an unsigned 64-bit number in a sorted
``array``, with the latest additions in a small buffer merged in, in place, once it outgrows a
32nd of the array. Any other string is kept as it is, so the set answers exactly like a
``set[str]``.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Set as AbstractSet
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

#: Numbers below this fit an ``array("Q")`` item (unsigned 64 bits).
_LIMIT = 1 << 64
#: The buffer is merged into the sorted array past max(_MIN_BUFFER, len(array) >> _BUFFER_SHIFT)
#: ids: a buffered id costs about 60 bytes, a merged one 8.
_MIN_BUFFER = 4096
_BUFFER_SHIFT = 5


def _as_number(product_id: object) -> int | None:
    """The id as a number when that number's decimal text is the id itself, else None."""
    try:
        number = int(product_id)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None
    # Rules out non-strings, signs, spaces, underscores, leading zeros and non-ASCII digits.
    return number if 0 <= number < _LIMIT and str(number) == product_id else None


class ProductIdSet(AbstractSet[str]):
    """A growing set of product id strings (``add``, ``in``, ``len``, iteration, set algebra)."""

    def __init__(self, product_ids: Iterable[str] = ()) -> None:
        self._sorted = array("Q")
        self._recent: set[int] = set()
        self._other: set[str] = set()
        for product_id in product_ids:
            self.add(product_id)

    @classmethod
    def _from_iterable(cls, product_ids: Iterable[str]) -> ProductIdSet:
        return cls(product_ids)

    def __contains__(self, product_id: object) -> bool:
        number = _as_number(product_id)
        return product_id in self._other if number is None else self._has(number)

    def _has(self, number: int) -> bool:
        if number in self._recent:
            return True
        index = bisect_left(self._sorted, number)
        return index < len(self._sorted) and self._sorted[index] == number

    def add(self, product_id: str) -> bool:
        """Add *product_id*; False when it was already there."""
        number = _as_number(product_id)
        if number is None:
            if product_id in self._other:
                return False
            self._other.add(product_id)
            return True
        if self._has(number):
            return False
        self._recent.add(number)
        if len(self._recent) > max(_MIN_BUFFER, len(self._sorted) >> _BUFFER_SHIFT):
            self._merge()
        return True

    def _merge(self) -> None:
        # In place, from the end: the array grows by the buffer's size, and each run of it
        # moves up (memory to memory, no copy in between) past the recent ids that sort above
        # it, so a merge never holds the array twice, and its Python work is per recent id.
        recent = sorted(self._recent)
        ids = self._sorted
        end = len(ids)
        ids.extend(array("Q", [0]) * len(recent))
        top = len(ids)
        with memoryview(ids) as view:
            for number in reversed(recent):
                place = bisect_left(ids, number, 0, end)
                view[top - (end - place) : top] = view[place:end]
                top -= end - place + 1
                view[top] = number
                end = place
        self._recent.clear()

    def __len__(self) -> int:
        return len(self._sorted) + len(self._recent) + len(self._other)

    def __iter__(self) -> Iterator[str]:
        yield from map(str, self._sorted)
        yield from map(str, self._recent)
        yield from self._other

    def __repr__(self) -> str:
        return f"{type(self).__name__}(<{len(self)} ids>)"

    def __getstate__(self) -> dict[str, Any]:
        # Pickled (JOBDIR state) as one sorted array.
        self._merge()
        return self.__dict__
