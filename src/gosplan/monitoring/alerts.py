"""Alerts from the forecaster and their escalation: enterprise → ministry → centre.

Each (enterprise, indicator) is one series. At period ``t`` the change probability is
``c_t = 1 - r_t(steady)``, ``r_t`` the retrospective probabilities (known once ``t+1`` is seen).

- An alert is **raised** at ``t`` when no alert of that series is open and ``c_t >= threshold``;
  level ``enterprise``, ``who`` the enterprise.
- It is **resolved** at the first later period ``s`` with ``c_s < threshold`` (the steady process
  explains the series again: ``r_s(steady) > 1 - threshold``). After a step change this happens
  once the filter has taken the new level as normal.
- Still open at ``t + k`` it **escalates** to ``ministry`` (``who`` the enterprise's ministry),
  still open at ``t + 2k`` to ``centre``.

One row per raising and per escalation; every row of an alert carries its ``raised`` and
``resolved`` periods (``resolved`` missing while open).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from gosplan.errors import InvalidEconomyError, TableFormatError
from gosplan.monitoring.forecaster import PROCESSES, Forecasts, HarrisonStevens, forecast

__all__ = ["LEVELS", "ALERT_COLUMNS", "Monitoring", "monitor", "monitor_arrays"]

LEVELS: tuple[str, str, str] = ("enterprise", "ministry", "centre")
ALERT_COLUMNS: tuple[str, ...] = ("period", "level", "who", "enterprise", "indicator", "kind", "probability", "raised", "resolved")
_KINDS = PROCESSES[1:]


@dataclass(frozen=True)
class Monitoring:
    """What :func:`monitor` returns.

    Attributes
    ----------
    alerts:
        One row per raising and per escalation, columns :data:`ALERT_COLUMNS`: ``period`` (of
        the change probability that triggered the row; it is known one period later),
        ``level`` (:data:`LEVELS`), ``who`` (enterprise, ministry or ``"centre"``),
        ``enterprise``, ``indicator``, ``kind`` (most probable change at ``period``: step,
        slope or transient), ``probability`` (``1 - r(steady)`` at ``period``), ``raised``
        and ``resolved`` (periods; ``resolved`` missing while open).
    forecasts:
        The forecaster's arrays, one column per series of :attr:`series`.
    series:
        ``enterprise, indicator`` of each column of the forecasts.
    periods:
        The periods, sorted: the rows of the forecasts.
    """

    alerts: pd.DataFrame
    forecasts: Forecasts
    series: pd.DataFrame
    periods: pd.Index

    @property
    def summary(self) -> pd.DataFrame:
        """Counts of alert rows by level (rows) and kind (columns), with a ``total`` column."""
        counts = pd.crosstab(pd.Categorical(self.alerts["level"], LEVELS), pd.Categorical(self.alerts["kind"], _KINDS), dropna=False)
        counts = counts.reindex(index=list(LEVELS), columns=list(_KINDS), fill_value=0)
        counts.index.name, counts.columns.name = "level", "kind"
        counts["total"] = counts.sum(axis=1)
        return counts


def monitor(
    values: pd.DataFrame,
    *,
    ministry_of: Mapping[str, str],
    indicators: Sequence[str] | None = None,
    threshold: float = 0.5,
    k: int = 3,
    params: HarrisonStevens | None = None,
) -> Monitoring:
    """Watch every (enterprise, indicator) series and raise and escalate alerts.

    Parameters
    ----------
    values:
        Long table with columns ``period``, ``enterprise`` and the indicators; one row per
        (period, enterprise). A missing row or a NaN is a missing observation.
    ministry_of:
        Ministry of each enterprise (every enterprise of ``values`` must be a key).
    indicators:
        Columns to watch; by default every column but ``period`` and ``enterprise``.
    threshold:
        Change probability in (0, 1) that raises an alert; an alert is resolved when the
        change probability falls below it.
    k:
        Periods an alert may stay open at a level before it escalates (integer >= 1).
    params:
        Forecaster parameters (:class:`~gosplan.monitoring.forecaster.HarrisonStevens`).
    """
    indicators = _validate(values, ministry_of, indicators, threshold, k)
    periods = pd.Index(sorted(values["period"].unique()), name="period")
    enterprises = sorted(values["enterprise"].unique())
    wide = values.set_index(["period", "enterprise"])[indicators].unstack("enterprise")
    wide = wide.reindex(index=periods)
    wide = wide.reindex(columns=pd.MultiIndex.from_product([indicators, enterprises]))
    # series ordered enterprise-major
    cols = [(ind, ent) for ent in enterprises for ind in indicators]
    Y = wide[cols].to_numpy(dtype=float)
    series = pd.DataFrame({"enterprise": [c[1] for c in cols], "indicator": [c[0] for c in cols]})
    fc = forecast(Y, params=params)
    alerts = _alerts(fc, series, periods, ministry_of, threshold, k)
    return Monitoring(alerts=alerts, forecasts=fc, series=series, periods=periods)


def monitor_arrays(
    arrays: Mapping[str, np.ndarray],
    *,
    enterprises: Sequence[str],
    ministries: Sequence[str],
    periods: Sequence[int] | None = None,
    threshold: float = 0.5,
    k: int = 3,
    params: HarrisonStevens | None = None,
) -> pd.DataFrame:
    """:func:`monitor` on indicators already laid out as ``T x E`` arrays (one per indicator,
    columns in the order of ``enterprises``, whose ministries are ``ministries``): the alerts
    table, without building the long table (what :func:`gosplan.execute` calls)."""
    if not 0 < threshold < 1:
        raise InvalidEconomyError(f"threshold must be in (0, 1), got {threshold!r}")
    if int(k) != k or k < 1:
        raise InvalidEconomyError(f"k must be an integer >= 1, got {k!r}")
    names = list(arrays)
    E = len(enterprises)
    if len(ministries) != E:
        raise InvalidEconomyError(f"{len(ministries)} ministries for {E} enterprises")
    mats = [np.asarray(arrays[name], dtype=float) for name in names]
    T = mats[0].shape[0] if mats else 0
    for name, m in zip(names, mats):
        if m.shape != (T, E):
            raise InvalidEconomyError(f"indicator {name!r} has shape {m.shape}, expected ({T}, {E})")
    Y = np.stack(mats, axis=2).reshape(T, E * len(names)) if mats else np.zeros((T, 0))
    ents = np.repeat(np.asarray(enterprises, dtype=object), len(names))
    series = pd.DataFrame({"enterprise": ents, "indicator": np.tile(np.asarray(names, dtype=object), E)})
    idx = pd.Index(np.arange(1, T + 1) if periods is None else list(periods), name="period")
    ministry_of = dict(zip(map(str, enterprises), map(str, ministries)))
    series["enterprise"] = series["enterprise"].astype(str)
    fc = forecast(Y, params=params)
    return _alerts(fc, series, idx, ministry_of, threshold, k)


def _alerts(fc: Forecasts, series: pd.DataFrame, periods: pd.Index, ministry_of: Mapping[str, str], threshold: float, k: int) -> pd.DataFrame:
    R = fc.retrospective
    T, S = R.shape[:2]
    change = 1.0 - R[:, :, 0]
    kind = R[:, :, 1:].argmax(axis=2) if T else np.zeros((0, S), dtype=int)
    open_ = np.zeros(S, dtype=bool)
    raised = np.full(S, -1)
    level = np.zeros(S, dtype=int)
    alert_of_row: list[int] = []
    rows: list[tuple[int, int, int]] = []  # (period index, level, series)
    alert_count = 0
    alert_id = np.full(S, -1)
    resolved_at: list[int] = []
    raised_at: list[int] = []
    for t in range(T - 1):  # the last period's retrospective needs the next observation
        flag = change[t] >= threshold
        ending = open_ & ~flag
        for s in np.nonzero(ending)[0]:
            resolved_at[alert_id[s]] = t
        open_ &= flag
        climbing = open_ & (level < 2) & (t == raised + k * (level + 1))
        level[climbing] += 1
        starting = flag & ~open_
        for s in np.nonzero(climbing | starting)[0]:
            if starting[s]:
                open_[s], raised[s], level[s], alert_id[s] = True, t, 0, alert_count
                alert_count += 1
                resolved_at.append(-1)
                raised_at.append(t)
            rows.append((t, int(level[s]), int(s)))
            alert_of_row.append(int(alert_id[s]))
    t_idx = np.array([r[0] for r in rows], dtype=int)
    lv = np.array([r[1] for r in rows], dtype=int)
    s_idx = np.array([r[2] for r in rows], dtype=int)
    ents = series["enterprise"].to_numpy()[s_idx]
    who = [e if lvl == 0 else (ministry_of[e] if lvl == 1 else "centre") for e, lvl in zip(ents, lv)]
    raised_idx = np.array([raised_at[a] for a in alert_of_row], dtype=int)
    resolved_idx = np.array([resolved_at[a] for a in alert_of_row], dtype=int)
    return pd.DataFrame(
        {
            "period": periods.take(t_idx),
            "level": [LEVELS[x] for x in lv],
            "who": who,
            "enterprise": ents,
            "indicator": series["indicator"].to_numpy()[s_idx],
            "kind": [_KINDS[x] for x in kind[t_idx, s_idx]],
            "probability": change[t_idx, s_idx],
            "raised": periods.take(raised_idx),
            "resolved": _take_missing(periods, resolved_idx),
        },
        columns=list(ALERT_COLUMNS),
    )


def _take_missing(periods: pd.Index, idx: np.ndarray) -> pd.array:
    """``periods[idx]``, missing where ``idx < 0`` (nullable integers for integer periods)."""
    values = [periods[i] if i >= 0 else None for i in idx]
    if pd.api.types.is_integer_dtype(periods.dtype):
        return pd.array(values, dtype="Int64")
    return pd.array(values, dtype=periods.dtype if pd.api.types.is_datetime64_any_dtype(periods.dtype) else object)


def _plain(x: object) -> object:
    """A numpy scalar as the Python value it holds (for messages)."""
    return x.item() if isinstance(x, np.generic) else x


def _validate(values: pd.DataFrame, ministry_of: Mapping[str, str], indicators: Sequence[str] | None, threshold: float, k: int) -> list[str]:
    if not isinstance(values, pd.DataFrame):
        raise InvalidEconomyError(f"values must be a pandas DataFrame (period, enterprise, indicators), got {type(values).__name__}")
    missing = [c for c in ("period", "enterprise") if c not in values.columns]
    if missing:
        raise TableFormatError(f"values lacks column(s) {missing}; it has {list(values.columns)}")
    if indicators is None:
        indicators = [c for c in values.columns if c not in ("period", "enterprise")]
    else:
        indicators = list(indicators)
    if not indicators:
        raise TableFormatError("values has no indicator column besides 'period' and 'enterprise'")
    for c in indicators:
        if c not in values.columns or c in ("period", "enterprise"):
            raise TableFormatError(f"indicator {c!r} is not a column of values (columns: {list(values.columns)})")
        if not pd.api.types.is_numeric_dtype(values[c]) or pd.api.types.is_bool_dtype(values[c]):
            raise TableFormatError(f"indicator column {c!r} must be numeric, has dtype {values[c].dtype}")
        inf = np.isinf(values[c].to_numpy(dtype=float))
        if inf.any():
            row = values.iloc[int(np.argmax(inf))]
            raise TableFormatError(f"indicator {c!r} is infinite for enterprise {_plain(row['enterprise'])!r} in period {_plain(row['period'])!r}")
    dup = values.duplicated(["period", "enterprise"])
    if dup.any():
        row = values[dup].iloc[0]
        raise TableFormatError(f"values has more than one row for enterprise {_plain(row['enterprise'])!r} in period {_plain(row['period'])!r}")
    if not isinstance(ministry_of, Mapping):
        raise InvalidEconomyError(f"ministry_of must map enterprise -> ministry, got {type(ministry_of).__name__}")
    unknown = [e for e in pd.unique(values["enterprise"]) if e not in ministry_of]
    if unknown:
        raise InvalidEconomyError(f"ministry_of has no ministry for enterprise(s) {unknown[:5]}" + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""))
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.floating, np.integer)) or not 0.0 < float(threshold) < 1.0:
        raise InvalidEconomyError(f"threshold must be a probability strictly between 0 and 1, got {threshold!r}")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise InvalidEconomyError(f"k (periods before an alert escalates) must be an integer >= 1, got {k!r}")
    return indicators
