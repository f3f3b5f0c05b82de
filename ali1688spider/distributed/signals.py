"""The signal of distributed mode that other components answer; importable without the redis
extra (the scheduler that sends it needs scrapy-redis, its receivers do not)."""

#: Sent (no arguments) before leases are acknowledged: what the requests delivered must be
#: recorded in Redis by then (the shared ledger, ``reporting/shared.py``); a receiver
#: returns True once it is, and anything else holds the acknowledgements for the next round.
leases_acknowledging = object()
