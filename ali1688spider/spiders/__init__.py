"""The ali1688 spiders: shop, product, search, categories."""
