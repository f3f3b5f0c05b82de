"""Options of the sandbox gateway and its fixed, public credentials."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_SEED = 1688
# About 50, about 5,000 and 100,000+ products (DESIGN.md), plus a few small and mid shops.
DEFAULT_SHOPS: tuple[int, ...] = (50, 96, 640, 5_000, 102_400)
# The shop whose seller authorized the fixed access token is the one closest to this size.
OWNER_SHOP_SIZE = 5_000

FAULT_NAMES = ("fail_5xx", "fail_qps", "fail_truncate", "fail_drop")


@dataclass(frozen=True)
class AppCredentials:
    """One sandbox application: its key, secret and the tokens issued at start."""

    app_key: str
    app_secret: str
    access_token: str
    refresh_token: str

    def as_dict(self) -> dict[str, str]:
        return {
            "app_key": self.app_key,
            "app_secret": self.app_secret,
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
        }

    def __repr__(self) -> str:
        return f"AppCredentials(app_key={self.app_key!r}, <secrets not shown>)"


def app_credentials(number: int) -> AppCredentials:
    """The public credentials of sandbox app *number* (1 = the one every tool uses)."""
    return AppCredentials(
        app_key=str(8688000 + number),
        app_secret=f"sandbox-app-secret-{number:04d}",
        access_token=f"sandbox-access-token-{number:04d}",
        refresh_token=f"sandbox-refresh-token-{number:04d}",
    )


@dataclass(frozen=True)
class SandboxOptions:
    """Everything the sandbox can be told at start (the CLI flags, same names)."""

    host: str = "127.0.0.1"
    port: int = 8688
    seed: int = DEFAULT_SEED
    qps: float = 20.0
    daily_quota: int = 0
    page_cap: int = 50
    page_size_cap: int = 50
    latency_ms: float = 0.0
    fail_5xx: float = 0.0
    fail_qps: float = 0.0
    fail_truncate: float = 0.0
    fail_drop: float = 0.0
    token_ttl: float = 36000.0
    deny_api: tuple[str, ...] = ()
    shops: tuple[int, ...] = DEFAULT_SHOPS
    apps: int = 1
    quiet: bool = False
    # The reference does not say whether a sale moves modifyDate: the one switch for it.
    sales_move_modified: bool = False

    def __post_init__(self) -> None:
        for name in FAULT_NAMES:
            check_rate(name, getattr(self, name))
        for name in ("qps", "latency_ms", "daily_quota"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")
        if self.page_cap < 1 or self.page_size_cap < 1:
            raise ValueError("page_cap and page_size_cap must be >= 1")
        if self.token_ttl <= 0:
            raise ValueError("token_ttl must be > 0 seconds")
        if not self.shops or any(count < 1 for count in self.shops):
            raise ValueError("shops must list at least one product count, each >= 1")
        if not 1 <= self.apps <= 99:
            raise ValueError("apps must be between 1 and 99")

    @property
    def credentials(self) -> list[AppCredentials]:
        return [app_credentials(n) for n in range(1, self.apps + 1)]


def check_rate(name: str, value: float) -> float:
    """A fault rate is a probability."""
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a rate between 0 and 1, got {value}")
    return value


def parse_shops(spec: str) -> tuple[int, ...]:
    """``"50,5000,100000"`` -> product counts of the shops, in that order."""
    try:
        counts = tuple(int(part) for part in spec.replace(" ", "").split(",") if part)
    except ValueError:
        raise ValueError(f"--shops takes comma-separated product counts, got {spec!r}") from None
    if not counts or any(c < 1 for c in counts):
        raise ValueError(f"--shops takes comma-separated product counts >= 1, got {spec!r}")
    return counts
