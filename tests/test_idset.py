"""The compact product id set: answers exactly like a set of strings, in a few bytes an id."""

from __future__ import annotations

import pickle
import random
import tracemalloc

from ali1688spider.idset import ProductIdSet


def test_it_answers_like_a_set_of_strings_across_merges():
    rnd = random.Random(7)
    ids = [str(rnd.randrange(600_000_000_000, 700_000_000_000)) for _ in range(30_000)]
    # Strings a number would not give back: kept as they are, never confused with their number.
    odd = ["0", "007", "7", "", "12a", "١٢٣", "99999999999999999999", "18446744073709551615", "-5", " 8", "+9", "1_0"]
    compact, plain = ProductIdSet(), set()
    for product_id in ids + odd + ids[:100]:
        assert compact.add(product_id) is (product_id not in plain)
        plain.add(product_id)
    assert len(compact) == len(plain) and compact == plain and set(compact) == plain
    for probe in ["007", "7", "8", "601234567890", *ids[::997], None, 7]:
        assert (probe in compact) is (probe in plain)
    other = set(ids[:10]) | {"1"}
    assert compact - other == plain - other
    assert (compact & other) == (plain & other)


def test_it_survives_pickling_with_its_latest_additions():
    compact = ProductIdSet(str(600_000_000_000 + i * 7) for i in range(5_000))
    again = pickle.loads(pickle.dumps(compact))
    assert again == compact and "600000000007" in again and "600000000008" not in again


def test_merges_keep_every_id_whatever_the_order_they_come_in():
    numbers = range(600_000_000_000, 600_000_000_000 + 3 * 40_000, 3)
    shuffled = list(numbers)
    random.Random(3).shuffle(shuffled)
    for order in (numbers, reversed(numbers), shuffled):
        compact = ProductIdSet(map(str, order))
        assert len(compact) == len(numbers) and set(compact) == set(map(str, numbers))
        # Found by bisection: only a merge that kept the array sorted finds them all.
        assert all(str(n) in compact for n in numbers)
        assert str(600_000_000_001) not in compact


def test_a_hundred_thousand_ids_cost_a_few_bytes_each_even_while_merging():
    ids = [str(600_000_000_000 + (i * 7_919) % 100_003 * 9_973) for i in range(100_000)]
    tracemalloc.start()
    try:
        compact = ProductIdSet(ids)
        held, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(compact) == 100_000
    # A set of the strings themselves holds about 90 bytes an id; a merge into a second array
    # would hold 16 at its peak.
    assert held / len(compact) < 12
    assert peak / len(compact) < 14
