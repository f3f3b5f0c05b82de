"""Distributed mode (``ALI1688_REDIS_URL``): the add-on, Redis keys, scheduler, seeds, pacer, quota."""
