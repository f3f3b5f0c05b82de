"""The completeness ledger's bookkeeping: counts kept as events come, in any order."""

from __future__ import annotations

import pickle
import random

from ali1688spider.reporting.ledger import CompletenessLedger, TargetLedger


def test_delivered_counts_listed_products_emitted_or_skipped_whatever_the_order():
    rnd = random.Random(26)
    ledger = CompletenessLedger()
    target = ledger.open("shop:a", spider="shop", target="a")
    ids = [str(600_000_000_000 + i) for i in range(3_000)]
    events = [(kind, product_id) for product_id in ids for kind in ("list", "emit", "skip")
              if rnd.random() < 0.7]
    events += rnd.sample(events, 500)  # every kind of event repeated
    rnd.shuffle(events)
    listed, emitted, skipped = set(), set(), set()
    for kind, product_id in events:
        if kind == "list":
            assert ledger.note_listed(target, product_id) is (product_id not in listed)
            listed.add(product_id)
        elif kind == "emit":
            target.note_emitted({"product_id": product_id, "skus": []})
            emitted.add(product_id)
        else:
            target.note_skipped(product_id)
            skipped.add(product_id)
    assert target.delivered() == len((emitted | skipped) & listed)
    assert len(target.listed) == len(listed) and target.sku_complete == len(emitted)


def test_the_first_target_to_list_or_claim_a_product_owns_it():
    ledger = CompletenessLedger()
    first = ledger.open("shop:a", spider="watch", target="a")
    second = ledger.open("shop:b", spider="watch", target="b")
    ledger.note_listed(second, "600000000001")
    ledger.note_listed(first, "600000000001")
    ledger.claim(first, "600000000002")
    ledger.note_listed(second, "600000000002")
    ledger.tag("600000000001", "search:x")
    assert ledger.targets_of("600000000001") == ("shop:b", "search:x")
    assert ledger.targets_of("600000000002") == ("shop:a",)
    assert ledger.note_emitted({"product_id": "600000000002"}) is first
    assert ledger.note_emitted({"product_id": "600000000003"}) is None
    assert ledger.seen("600000000001") and not ledger.seen("600000000003")


def test_a_ledger_saved_by_an_earlier_version_carries_on():
    """JOBDIR keeps ledgers pickled; one from before the compact sets held plain sets."""
    old = TargetLedger(key="shop:a", spider="shop", target="a")
    old.listed, old.emitted, old.skipped = {"1", "2", "3"}, {"2"}, {"3", "9"}
    del old.delivered_count
    resumed = pickle.loads(pickle.dumps(old))
    assert resumed.delivered() == 2
    assert resumed.note_listed("4", None) and not resumed.note_listed("1", None)
    resumed.note_emitted({"product_id": "4"})
    assert resumed.delivered() == 3
