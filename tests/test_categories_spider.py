"""The categories spider walks the sandbox's category tree, without an access token."""

from __future__ import annotations

import pytest

FAST = {"ALI1688_QPS": "200"}


def no_token_env(sandbox) -> dict[str, str]:
    """App key and secret only: alibaba.category.get needs no access token."""
    env = sandbox.env(**FAST)
    del env["ALI1688_ACCESS_TOKEN"], env["ALI1688_REFRESH_TOKEN"]
    return env


def test_whole_tree_is_complete_and_needs_no_token(sandbox, crawl):
    result = crawl("categories", env=no_token_env(sandbox))

    assert result.returncode == 0, result.log[-3000:]
    truth = sandbox.get("/sandbox/categories")
    assert len(result.items) == len(truth) == 310
    assert sorted(result.items, key=lambda c: c["category_id"]) == sorted(
        truth, key=lambda c: c["category_id"]
    )
    assert all(list(item) == ["category_id", "parent_id", "name", "level", "is_leaf"]
               for item in result.items)
    stats = result.stats
    # One call for the top list and one per category that has children.
    assert stats["ali1688/calls"] == 1 + sum(1 for c in truth if not c["is_leaf"])
    assert not any(key.startswith("ali1688/normalize/anomaly") for key in stats)
    assert not any(key.startswith("ali1688/errors") for key in stats)


def test_depth_limits_the_walk(sandbox, crawl):
    result = crawl("categories", args={"depth": "2"}, env=no_token_env(sandbox))

    assert result.returncode == 0, result.log[-3000:]
    truth = [c for c in sandbox.get("/sandbox/categories") if c["level"] <= 2]
    assert sorted(result.items, key=lambda c: c["category_id"]) == sorted(
        truth, key=lambda c: c["category_id"]
    )
    assert result.stats["ali1688/calls"] == 11


@pytest.mark.parametrize(("level", "depth"), [(1, 1), (1, 2), (2, 1), (2, 5)])
def test_a_subtree_from_root_with_its_real_levels(sandbox, crawl, level, depth):
    truth = sandbox.get("/sandbox/categories")
    root = next(c for c in truth if c["level"] == level)
    result = crawl(
        "categories", args={"root": root["category_id"], "depth": str(depth)},
        env=no_token_env(sandbox),
    )
    assert result.returncode == 0, result.log[-3000:]
    wanted, frontier = [root], [root["category_id"]]
    for _ in range(depth):
        children = [c for c in truth if c["parent_id"] in frontier]
        wanted += children
        frontier = [c["category_id"] for c in children]
    key = lambda c: c["category_id"]  # noqa: E731
    assert sorted(result.items, key=key) == sorted(wanted, key=key)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"depth": "0"}, "argument depth='0'"),
        ({"root": "dresses"}, "argument root='dresses'"),
        ({"root": "-5"}, "argument root='-5'"),
        ({"level": "2"}, "does not take argument(s) level"),
    ],
)
def test_bad_arguments_exit_2(sandbox, crawl, args, message):
    result = crawl("categories", args=args, env=no_token_env(sandbox))
    assert result.returncode == 2
    assert message in result.log
    assert "Traceback" not in result.log


def test_unknown_root_is_reported(sandbox, crawl):
    result = crawl("categories", args={"root": "999999999"}, env=no_token_env(sandbox))
    assert result.returncode == 0, result.log[-3000:]
    assert result.items == []
    assert result.stats["ali1688/errors/not_found"] == 1
    assert "categoryID=999999999" in result.log
