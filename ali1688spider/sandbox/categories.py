"""The sandbox's 3-level category tree (10 top categories x 5 x 5 = 250 leaves).

The tree is the same for every seed so that category ids are stable across sandboxes.
Ids look like 1688's: short ids at the top, 7 digits at level 2, 9 digits for leaves.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ali1688spider.sandbox.words import KNOWN_SECOND_LEVEL_IDS, TOP_CATEGORIES, Word


@dataclass
class Category:
    category_id: int
    name: Word
    level: int
    parent_id: int
    top: int                       # index into TOP_CATEGORIES
    children: list[int] = field(default_factory=list)
    leaves: tuple[int, ...] = ()   # indices into CategoryTree.leaves: this node's leaves

    @property
    def is_leaf(self) -> bool:
        return self.level == 3


class CategoryTree:
    """Every category by id, the leaves in a fixed order, and the level-1 list."""

    def __init__(self) -> None:
        self.by_id: dict[int, Category] = {}
        self.roots: list[int] = []
        self.leaves: list[Category] = []
        for top_index, top in enumerate(TOP_CATEGORIES):
            root = self._add(top.category_id, top.name, 1, 0, top_index)
            for noun_index, noun in enumerate(top.nouns):
                second_id = KNOWN_SECOND_LEVEL_IDS.get(
                    noun.zh, 1032000 + top_index * 97 + noun_index * 13
                )
                second = self._add(second_id, noun, 2, root.category_id, top_index)
                for modifier_index, modifier in enumerate(top.modifiers):
                    leaf_id = 122_200_000 + top_index * 10_000 + noun_index * 100 + modifier_index
                    name = Word(modifier.zh + noun.zh, f"{modifier.en} {noun.en.lower()}")
                    leaf = self._add(leaf_id, name, 3, second.category_id, top_index)
                    leaf.leaves = (len(self.leaves),)
                    self.leaves.append(leaf)
                second.leaves = tuple(i for c in second.children for i in self.by_id[c].leaves)
            root.leaves = tuple(i for c in root.children for i in self.by_id[c].leaves)

    def _add(self, category_id: int, name: Word, level: int, parent_id: int, top: int) -> Category:
        if category_id in self.by_id:
            raise AssertionError(f"duplicate category id {category_id}")
        category = Category(category_id, name, level, parent_id, top)
        self.by_id[category_id] = category
        if parent_id:
            self.by_id[parent_id].children.append(category_id)
        else:
            self.roots.append(category_id)
        return category

    def get(self, category_id: int) -> Category | None:
        return self.by_id.get(category_id)

    def path(self, leaf: Category) -> tuple[Category, Category, Category]:
        """(level 1, level 2, leaf) of a leaf."""
        second = self.by_id[leaf.parent_id]
        return self.by_id[second.parent_id], second, leaf

    def leaves_under(self, top_index: int) -> tuple[int, ...]:
        return self.by_id[self.roots[top_index]].leaves

    def ground_truth(self) -> list[dict]:
        """Every category as the ``Category`` item fields (for ``/sandbox/categories``)."""
        return [
            {
                "category_id": str(c.category_id),
                "parent_id": str(c.parent_id),
                "name": c.name.zh,
                "level": c.level,
                "is_leaf": c.is_leaf,
            }
            for c in self.by_id.values()
        ]
