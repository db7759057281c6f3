"""Vectorised synthetic OHLCV: correlated symbols, volatility and drift regimes, jumps.

Every random quantity comes from its own generator (one per market-wide stream, three per
symbol, keyed by the seed and the symbol's name) and every per-bar draw is a fixed number of
values per bar. Generating n1 bars then n2 bars therefore yields exactly the same bits as
generating n1 + n2 bars at once, which is what lets the streaming demo and the batch replay
share one code path. A symbol's path depends on the seed and its own name, not on which other
symbols are in the universe (only the sign of its factor loading does, for negative
correlation).

The public entry points (``synthetic_series``, ``SyntheticStream``) live in
``execution.market.bars``; this module only produces raw arrays.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from execution.config import SymbolSpec, SyntheticConfig
from execution.market.perp_series import (
    FundingSeries,
    MarkSeries,
    PerpData,
    scheduled_funding_times,
)

FloatArray = NDArray[np.float64]
# ts, open, high, low, close, volume
RawBars = tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]

VOLATILE_MULT = 3.5  # volatile-regime vol as a multiple of calm vol
CALM_MEAN_BARS = 600.0
VOLATILE_MEAN_BARS = 150.0
TREND_MIN_BARS = 150
TREND_MEAN_EXTRA_BARS = 250.0
# |drift| per bar in units of the calm per-bar vol: over a calm 300-bar window the trend is
# 2-5x the window's noise, so EMA crosses ride real trends (and still get stopped out).
DRIFT_RANGE = (0.12, 0.3)
GAP_PROB = 0.02  # chance that a bar opens away from the previous close
GAP_SCALE = 0.5  # gap stdev, in units of the bar's vol
JUMP_SIZE = (0.015, 0.05)  # absolute log-return of a jump
# Half of the jumps hit the whole market (through the factor loading's sign), half one symbol:
# that keeps the measured return correlation close to cfg.correlation.
MARKET_JUMP_SHARE = 0.5
WICK_SCALE = 0.6  # wick length stdev (half-normal), in units of the bar's vol
VOL_SCALE_RANGE = (0.8, 1.25)  # per-symbol vol multiplier
VOLUME_NOTIONAL = 1.0e6  # typical quote volume per bar

# Funding: an AR(1) around Binance's usual 0.01 % per 8 h, capped as Binance caps it.
FUNDING_MEAN = 1.0e-4
FUNDING_PERSISTENCE = 0.85
FUNDING_NOISE = 6.0e-5
FUNDING_CAP = 0.0075
MARK_BASIS_STDEV = 1.5e-4  # mark vs last trade, relative

_N_NORMALS = 5  # idiosyncratic shock, upper wick, lower wick, gap size, volume noise
_N_UNIFORMS = 4  # jump happens, jump size, jump sign (see _jumps), gap happens
_MARKET = 0
_SYMBOL = 1


def _rng(seed: int, *key: int) -> np.random.Generator:
    entropy = seed % (1 << 64)  # SeedSequence wants a non-negative integer
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy, spawn_key=key)))


def _jumps(u: FloatArray, prob: float) -> FloatArray:
    """Return jump log-returns (mostly 0) from uniforms: column 0 happens, 1 size, 2 sign."""
    size = JUMP_SIZE[0] + (JUMP_SIZE[1] - JUMP_SIZE[0]) * u[:, 1]
    return np.where(u[:, 0] < prob, np.where(u[:, 2] < 0.5, -size, size), 0.0)


class _Regime:
    """A piecewise-constant path drawn one segment at a time from its own generator."""

    def __init__(self, rng: np.random.Generator) -> None:
        self._rng = rng
        self._state = -1  # no segment drawn yet
        self._value = 0.0
        self._left = 0

    def _next_segment(self) -> tuple[int, float, int]:
        """Return (state, value, length in bars) of the segment after the current one."""
        raise NotImplementedError

    def take(self, n: int) -> FloatArray:
        """Return the regime's value for the next n bars, carrying the state across calls."""
        out = np.empty(n, dtype=np.float64)
        i = 0
        while i < n:
            if self._left == 0:
                self._state, self._value, self._left = self._next_segment()
            k = min(self._left, n - i)
            out[i : i + k] = self._value
            i += k
            self._left -= k
        return out


class _VolRegime(_Regime):
    """Markov switching calm <-> volatile: geometric durations, starting calm."""

    def _next_segment(self) -> tuple[int, float, int]:
        state = 0 if self._state != 0 else 1
        mean = CALM_MEAN_BARS if state == 0 else VOLATILE_MEAN_BARS
        length = int(self._rng.geometric(1.0 / mean))
        return state, (1.0 if state == 0 else VOLATILE_MULT), length


class _DriftRegime(_Regime):
    """Trend up / down / flat; each segment switches to one of the two other states."""

    def _next_segment(self) -> tuple[int, float, int]:
        if self._state < 0:
            state = int(self._rng.integers(3))
        else:
            state = (self._state + 1 + int(self._rng.integers(2))) % 3
        magnitude = float(self._rng.uniform(*DRIFT_RANGE))
        value = (0.0, magnitude, -magnitude)[state]  # 0 flat, 1 up, 2 down
        length = TREND_MIN_BARS + int(self._rng.geometric(1.0 / TREND_MEAN_EXTRA_BARS))
        return state, value, length


@dataclass(slots=True)
class _SymbolState:
    symbol: str
    base_price: float
    loading: float
    vol_scale: float
    normals: np.random.Generator
    uniforms: np.random.Generator
    drift: _DriftRegime
    log_close: float
    last_close: float


class SyntheticGenerator:
    """Produce raw OHLCV arrays bar block by bar block; the split into blocks never matters."""

    def __init__(
        self,
        specs: Sequence[SymbolSpec],
        cfg: SyntheticConfig,
        timeframe_seconds: float,
        start_ts: float,
    ) -> None:
        if not timeframe_seconds > 0:
            raise ValueError(f"timeframe_seconds must be > 0 (got {timeframe_seconds})")
        self._cfg = cfg
        self._tf = float(timeframe_seconds)
        self._start = float(start_ts)
        self._emitted = 0
        self._factor = _rng(cfg.seed, _MARKET, 0)
        self._vol = _VolRegime(_rng(cfg.seed, _MARKET, 1))
        self._market_jumps = _rng(cfg.seed, _MARKET, 2)
        rho = abs(cfg.correlation)
        self._idio_weight = math.sqrt(1.0 - rho)
        self._symbols = [
            self._symbol_state(i, spec, math.sqrt(rho)) for i, spec in enumerate(specs)
        ]

    def _symbol_state(self, index: int, spec: SymbolSpec, weight: float) -> _SymbolState:
        key = zlib.crc32(spec.symbol.encode("utf-8"))
        seed = self._cfg.seed
        # Negative correlation: alternate loading signs (same-sign pairs stay positively correlated).
        sign = -1.0 if self._cfg.correlation < 0 and index % 2 else 1.0
        return _SymbolState(
            symbol=spec.symbol,
            base_price=spec.base_price,
            loading=sign * weight,
            vol_scale=float(_rng(seed, _SYMBOL, key, 3).uniform(*VOL_SCALE_RANGE)),
            normals=_rng(seed, _SYMBOL, key, 0),
            uniforms=_rng(seed, _SYMBOL, key, 1),
            drift=_DriftRegime(_rng(seed, _SYMBOL, key, 2)),
            log_close=math.log(spec.base_price),
            last_close=spec.base_price,
        )

    @property
    def bars_emitted(self) -> int:
        """Return how many bars per symbol have been generated so far."""
        return self._emitted

    def generate(self, n: int) -> dict[str, RawBars]:
        """Return the next n bars of every symbol as (ts, open, high, low, close, volume)."""
        if n < 0:
            raise ValueError(f"n must be >= 0 (got {n})")
        index = np.arange(self._emitted, self._emitted + n, dtype=np.float64)
        ts = self._start + index * self._tf
        self._emitted += n
        vol_mult = self._vol.take(n)
        factor = self._factor.standard_normal(n)
        market_jump = _jumps(
            self._market_jumps.random((n, 3)), MARKET_JUMP_SHARE * self._cfg.jump_prob
        )
        return {
            st.symbol: self._symbol_bars(st, ts, vol_mult, factor, market_jump)
            for st in self._symbols
        }

    def _symbol_bars(
        self,
        st: _SymbolState,
        ts: FloatArray,
        vol_mult: FloatArray,
        factor: FloatArray,
        market_jump: FloatArray,
    ) -> RawBars:
        n = len(ts)
        z = st.normals.standard_normal((n, _N_NORMALS))
        u = st.uniforms.random((n, _N_UNIFORMS))
        base_vol = self._cfg.base_vol
        sigma = base_vol * st.vol_scale * vol_mult
        shock = st.loading * factor + self._idio_weight * z[:, 0]
        jump = _jumps(u[:, :3], (1.0 - MARKET_JUMP_SHARE) * self._cfg.jump_prob)
        jump += np.copysign(market_jump, st.loading)
        ret = st.drift.take(n) * base_vol + sigma * shock + jump
        # np.cumsum accumulates strictly left to right, so seeding it with the carried log
        # close gives the same bits whatever the block boundaries are.
        log_close = np.cumsum(np.concatenate(([st.log_close], ret)))[1:]
        close = np.exp(log_close)
        prev_close = np.concatenate(([st.last_close], close[:-1]))
        gapped = (u[:, 3] < GAP_PROB) & (ts > self._start)  # the first bar opens at base_price
        gap = np.where(gapped, GAP_SCALE * sigma * z[:, 3], 0.0)
        open_ = prev_close * np.exp(gap)  # exp(0) == 1 exactly: open == previous close
        # Multiplying by a factor >= 1 (<= 1) never rounds below (above) the input.
        high = np.maximum(open_, close) * np.exp(WICK_SCALE * sigma * np.abs(z[:, 1]))
        low = np.minimum(open_, close) * np.exp(-WICK_SCALE * sigma * np.abs(z[:, 2]))
        volume = (
            (VOLUME_NOTIONAL / st.base_price)
            * np.exp(0.5 * z[:, 4])
            * (1.0 + np.abs(shock))
            * vol_mult
        )
        if n:
            st.log_close = float(log_close[-1])
            st.last_close = float(close[-1])
        return ts, open_, high, low, close, volume


def synthetic_perp_data(
    seed: int, symbol: str, bars: RawBars, timeframe_seconds: float
) -> PerpData:
    """Return a funding series on the 00/08/16 UTC schedule and a mark near last for ``bars``.

    Both come from their own generators, so the price path is the same with or without them.
    """
    ts, open_, high, low, close, _ = bars
    key = zlib.crc32(symbol.encode("utf-8"))
    times = scheduled_funding_times(float(ts[0]), float(ts[-1])) if len(ts) else []
    shocks = _rng(seed, _SYMBOL, key, 4).standard_normal(len(times))
    rates: list[float] = []
    rate = FUNDING_MEAN
    for z in shocks.tolist():
        rate = FUNDING_MEAN + FUNDING_PERSISTENCE * (rate - FUNDING_MEAN) + FUNDING_NOISE * z
        rates.append(min(FUNDING_CAP, max(-FUNDING_CAP, rate)))
    basis = 1.0 + MARK_BASIS_STDEV * _rng(seed, _SYMBOL, key, 5).standard_normal(len(ts))
    mark = MarkSeries(
        tuple(ts.tolist()), tuple((open_ * basis).tolist()), tuple((high * basis).tolist()),
        tuple((low * basis).tolist()), tuple((close * basis).tolist()), timeframe_seconds,
    )  # fmt: skip
    return PerpData((mark,), FundingSeries(tuple(times), tuple(rates)))
