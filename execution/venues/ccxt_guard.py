"""What keeps the ccxt adapter safe: keys from the environment, secrets redacted from every log
line and message, ccxt errors mapped to ours in one place, bounded retries with backoff.

Used by :mod:`execution.venues.ccxt_venue` (which re-exports the public names) and by
:mod:`execution.market.fetch`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import ccxt

from execution.config import ExchangeConfig
from execution.venues.base import (
    AuthenticationFailed,
    ExchangeError,
    OrderRejected,
    TransientExchangeError,
)

log = logging.getLogger("execution.venues.ccxt_venue")
_T = TypeVar("_T")

DEFAULT_EXCHANGE_ID = "binanceusdm"
# Bounded labels for the adapter's error counters (see CallGuard.error_counts).
ERROR_KINDS = (
    "timeout",
    "rate_limit",
    "unavailable",
    "network",
    "insufficient_funds",
    "invalid_order",
    "duplicate",
    "not_found",
    "auth",
    "error",
)
_CLIENT_ID_OK = re.compile(r"^[.A-Za-z0-9:/_-]{1,36}$")  # Binance's newClientOrderId rule
_SIGNATURE = re.compile(r"(signature=)[^&\s\"']+", re.IGNORECASE)


class MissingKeysError(AuthenticationFailed):
    """Live trading was asked for but the key environment variables are not set."""


class OrderNotFound(ExchangeError):
    """The exchange does not know the order (find_order turns this into None)."""


class DuplicateClientOrderId(OrderRejected):
    """The exchange already holds an order with this client id."""


def keys_from_env(cfg: ExchangeConfig, env: Mapping[str, str] | None = None) -> tuple[str, str]:
    """Return (api_key, secret) from the variables ``cfg`` names; raise MissingKeysError."""
    source = os.environ if env is None else env
    key = source.get(cfg.api_key_env, "").strip()
    secret = source.get(cfg.api_secret_env, "").strip()
    missing = [n for n, v in ((cfg.api_key_env, key), (cfg.api_secret_env, secret)) if not v]
    if missing:
        raise MissingKeysError(
            f"live trading needs API keys: set the environment variable(s) {', '.join(missing)}"
            " (keys are read from the environment only, never from files or flags)"
        )
    return key, secret


def venue_client_id(client_order_id: str) -> str:
    """Return the id sent to the venue: ours if Binance accepts it, else a stable digest."""
    if _CLIENT_ID_OK.match(client_order_id):
        return client_order_id
    return "v7h" + hashlib.sha256(client_order_id.encode()).hexdigest()[:32]


class Redactor:
    """Blank API keys, secrets and request signatures out of a text."""

    def __init__(self, *secrets: str) -> None:
        self._secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for s in self._secrets:
            text = text.replace(s, "***")
        return _SIGNATURE.sub(r"\1***", text)

    def __repr__(self) -> str:
        return "Redactor(***)"


class RedactingLogger(logging.LoggerAdapter[logging.Logger]):
    """ccxt logs every request's headers (the key among them) at DEBUG: redact each line."""

    def __init__(self, logger: logging.Logger, redact: Redactor) -> None:
        super().__init__(logger, {})
        self._redact = redact

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        if not self.isEnabledFor(level):
            return
        try:
            text = str(msg) % args if args else str(msg)
        except (TypeError, ValueError):  # a log line must never break the request it describes
            text = f"{msg} {args!r}"
        self.logger.log(level, "%s", self._redact(text))


def map_ccxt_error(err: Exception, redact: Redactor) -> tuple[str, ExchangeError]:
    """Return (kind, our exception) for a ccxt exception; the one place errors are mapped."""
    text = redact(f"{type(err).__name__}: {err}")[:400]
    table: tuple[tuple[type[Exception], str, type[ExchangeError], str], ...] = (
        (ccxt.OrderNotFound, "not_found", OrderNotFound, ""),
        (ccxt.DuplicateOrderId, "duplicate", DuplicateClientOrderId, "duplicate client order id: "),
        (ccxt.InsufficientFunds, "insufficient_funds", OrderRejected, "insufficient_funds: "),
        (ccxt.InvalidOrder, "invalid_order", OrderRejected, "invalid_order: "),
        (ccxt.AuthenticationError, "auth", AuthenticationFailed, "authentication failed: "),
        (ccxt.RequestTimeout, "timeout", TransientExchangeError, ""),
        (ccxt.RateLimitExceeded, "rate_limit", TransientExchangeError, "rate limited: "),
        (ccxt.DDoSProtection, "rate_limit", TransientExchangeError, "rate limited: "),
        (ccxt.ExchangeNotAvailable, "unavailable", TransientExchangeError, ""),
        (ccxt.OperationFailed, "network", TransientExchangeError, ""),  # NetworkError, 5xx, -1001
    )
    if isinstance(err, ccxt.InvalidOrder) and '"code":-4116' in str(err).replace(" ", ""):
        return "duplicate", DuplicateClientOrderId("duplicate client order id: " + text)
    for ccxt_type, kind, ours, prefix in table:
        if isinstance(err, ccxt_type):
            return kind, ours(prefix + text)
    return "error", ExchangeError(text)


def build_client(exchange_id: str, api_key: str, secret: str, testnet: bool) -> Any:
    """Return a configured ccxt client: rate limited, swaps by default, testnet if asked."""
    cls = getattr(ccxt, exchange_id, None)
    if not isinstance(cls, type) or not issubclass(cls, ccxt.Exchange):
        raise ExchangeError(f"unknown ccxt exchange id {exchange_id!r}")
    client = cls(
        {
            "apiKey": api_key,
            "secret": secret,
            "enableRateLimit": True,
            # no spot-wallet currency list (needs extra key permissions); sync the nonce clock
            "options": {
                "defaultType": "swap",
                "fetchCurrencies": False,
                "adjustForTimeDifference": True,
            },
        }
    )
    if testnet:
        try:
            # ccxt refuses Binance's retired futures testnet; Binance's demo trading replaced it
            if isinstance(client, ccxt.binance):
                client.enable_demo_trading(True)
            else:
                client.set_sandbox_mode(True)
        except ccxt.NotSupported as err:
            raise ExchangeError(f"{exchange_id} has no testnet/sandbox in ccxt: {err}") from None
    return client


class CallGuard:
    """Run ccxt calls: wait out a rate-limit cooldown, map errors, count them, retry reads."""

    def __init__(
        self,
        redact: Redactor,
        request_spacing: Callable[[], float],
        max_retries: int = 3,
        backoff_seconds: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._redact = redact
        self._spacing = request_spacing  # the exchange's own seconds between requests
        self.max_retries = max_retries
        self._backoff = backoff_seconds
        self._sleep = sleep
        self._cooldown_until = 0.0
        self.error_counts: dict[str, int] = {}
        self.retries_total = 0

    def __call__(self, fn: Callable[..., _T], *args: Any, retry: bool = True) -> _T:
        """Return ``fn(*args)``; transient errors are retried only when ``retry`` (reads)."""
        attempts = self.max_retries + 1 if retry else 1
        for attempt in range(attempts):
            self._wait_cooldown()
            try:
                return fn(*args)
            except ccxt.BaseError as err:
                kind, mapped = map_ccxt_error(err, self._redact)
            self.error_counts[kind] = self.error_counts.get(kind, 0) + 1
            delay = self.delay(attempt, kind)
            if kind == "rate_limit":  # every later call waits, orders included
                self._cooldown_until = time.monotonic() + delay
            if not isinstance(mapped, TransientExchangeError) or attempt + 1 >= attempts:
                raise mapped from None
            self.retries_total += 1
            name = getattr(fn, "__name__", "call")
            log.warning(
                "%s: %s; retry %d/%d in %.2fs", name, mapped, attempt + 1, attempts - 1, delay
            )
            self._sleep(delay)
            self._cooldown_until = 0.0  # that wait covered it
        raise AssertionError("unreachable")

    def delay(self, attempt: int, kind: str) -> float:
        """Exponential backoff, never shorter than the exchange's own request spacing."""
        base = max(self._backoff * 2**attempt, self._spacing())
        return min(60.0, base * (4 if kind == "rate_limit" else 1))

    def _wait_cooldown(self) -> None:
        wait, self._cooldown_until = self._cooldown_until - time.monotonic(), 0.0
        if wait > 0:
            self._sleep(wait)
