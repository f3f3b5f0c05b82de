"""Distributed mode (``ALI1688_REDIS_URL``): the add-on, the Redis keys, the scheduler and the seeds.

The Redis pacer, daily quota and token store are the gateway's (``gateway/``), next to their
local twins."""
