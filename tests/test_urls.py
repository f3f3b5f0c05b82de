"""Offer and shop references in every URL form of reference §8."""

from __future__ import annotations

import pytest

from ali1688spider.api.urls import ShopRef, parse_offer_id, parse_shop_ref


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("874039857500", "874039857500"),
        ("  874039857500\n", "874039857500"),
        ("https://detail.1688.com/offer/874039857500.html", "874039857500"),
        ("http://detail.1688.com/offer/874039857500.html?spm=a26352.13672862.0.0&sk=consign", "874039857500"),
        ("detail.1688.com/offer/874039857500.html", "874039857500"),
        ("https://m.1688.com/offer/874039857500.html", "874039857500"),
        ("https://detail.1688.com/offer_detail.htm?offerId=874039857500", "874039857500"),
        ("https://DETAIL.1688.COM/offer/874039857500.html#anchor", "874039857500"),
        ("https://detail.m.1688.com/page/index.html?offerId=6123456789012", "6123456789012"),
    ],
)
def test_parse_offer_id(text, expected):
    assert parse_offer_id(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "abc",
        "0",
        "12.5",
        "https://detail.1688.com/offer/abc.html",
        "https://detail.evil.com/offer/874039857500.html",
        "https://1688.com.evil.com/offer/874039857500.html",
        "https://detail.1688.com/offer_detail.htm?offerId=x",
        "https://joinsun.1688.com/page/offerlist.htm",
        "874039857500\nrm -rf /",
    ],
)
def test_parse_offer_id_rejects(text):
    with pytest.raises(ValueError) as caught:
        parse_offer_id(text)
    message = str(caught.value)
    assert message.startswith("not a 1688 offer id or offer URL:") and "\n" not in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://joinsun.1688.com/", ShopRef(domain="joinsun.1688.com")),
        ("https://joinsun.1688.com/page/offerlist.htm", ShopRef(domain="joinsun.1688.com")),
        ("trgm66666.1688.com", ShopRef(domain="trgm66666.1688.com")),
        ("https://TRGM66666.1688.com/", ShopRef(domain="trgm66666.1688.com")),
        ("https://shop1475254196895.1688.com/page/offerlist.htm", ShopRef(domain="shop1475254196895.1688.com")),
        ("https://shop3w093345o1043.1688.com/page/offerlist.htm", ShopRef(domain="shop3w093345o1043.1688.com")),
        (
            "https://b2b-22146365959302bc20.1688.com/",
            ShopRef(domain="b2b-22146365959302bc20.1688.com", member_id="b2b-22146365959302bc20"),
        ),
        (
            "https://winport.m.1688.com/page/index.html?memberId=b2b-1711749575",
            ShopRef(member_id="b2b-1711749575"),
        ),
        ("https://m.1688.com/winport/b2b-221822542203833240.html", ShopRef(member_id="b2b-221822542203833240")),
        ("https://m.1688.com/winport/asyncView?memberId=b2b-2379510033", ShopRef(member_id="b2b-2379510033")),
        ("https://sale.1688.com/factory/card.html?memberId=b2b-2379510033", ShopRef(member_id="b2b-2379510033")),
        # Very old accounts use their login id as memberId: taken as given.
        ("https://winport.m.1688.com/page/index.html?memberId=meetlove168", ShopRef(member_id="meetlove168")),
        ("b2b-1711749575", ShopRef(member_id="b2b-1711749575")),
    ],
)
def test_parse_shop_ref(text, expected):
    assert parse_shop_ref(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "joinsun",
        "https://www.1688.com/",
        "https://detail.1688.com/offer/874039857500.html",
        "https://m.1688.com/",
        "https://winport.m.1688.com/page/index.html",
        "https://joinsun.taobao.com/",
        "https://cbu01.alicdn.com/img/ibank/x.jpg",
    ],
)
def test_parse_shop_ref_rejects(text):
    with pytest.raises(ValueError) as caught:
        parse_shop_ref(text)
    message = str(caught.value)
    assert message.startswith("not a 1688 shop URL or member id:") and "\n" not in message
