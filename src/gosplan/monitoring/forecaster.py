"""Harrison–Stevens multi-process forecaster (class II), vectorised over series.

Notation (Harrison & Stevens 1976, "Bayesian forecasting", JRSS B 38; West & Harrison 1997,
ch. 12). Each series follows a linear growth model in its standardised units
``y_t = (x_t - x_first) / scale``::

    y_t    = mu_t + eps_t,                 eps_t   ~ N(0, V e_j)
    mu_t   = mu_{t-1} + beta_t + gamma_t,  gamma_t ~ N(0, V g_j)
    beta_t = beta_{t-1} + delta_t,         delta_t ~ N(0, V d_j)

that is ``theta_t = G theta_{t-1} + w_t`` with ``theta = (mu, beta)``, ``G = [[1, 1], [0, 1]]``,
``F = (1, 0)`` and ``W_j = V [[g_j + d_j, d_j], [d_j, d_j]]``. The process ``j`` in force at ``t``
is drawn afresh each period with prior probability ``pi_j`` (class II): steady, step change
(``g`` inflated), slope change (``d`` inflated), transient (``e`` inflated). ``V = 1`` after
standardisation.

Each period, the four posterior components ``(m_i, C_i)`` at ``t-1`` (one per process then) are
combined with the four processes at ``t``; the 16 Kalman updates are weighted by
``p_{t-1}(i) pi_j N(y_t; f_ij, Q_ij)`` and collapsed, by moment matching, to one component per
process at ``t``. Summing the 16 weights over ``i`` gives ``p_t(j)``; summing over ``j`` gives
the retrospective probability of process ``i`` at ``t-1`` given ``y_t``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from gosplan.errors import InvalidEconomyError

__all__ = ["PROCESSES", "HarrisonStevens", "Forecasts", "forecast", "robust_scale"]

PROCESSES: tuple[str, str, str, str] = ("steady", "step", "slope", "transient")
"""Order of the process axis of :attr:`Forecasts.probabilities` and the parameters' tuples."""

_LOG_2PI = float(np.log(2.0 * np.pi))


def _four(name: str, values: tuple[float, ...], *, positive: bool) -> tuple[float, float, float, float]:
    if len(values) != 4:
        raise InvalidEconomyError(f"HarrisonStevens.{name} needs 4 values, one per process {PROCESSES}, got {len(values)}")
    out = tuple(float(v) for v in values)
    for process, v in zip(PROCESSES, out):
        if not np.isfinite(v) or v < 0 or (positive and v == 0):
            need = "> 0" if positive else ">= 0"
            raise InvalidEconomyError(f"HarrisonStevens.{name} for process {process!r} must be finite and {need}, got {v}")
    return out  # type: ignore[return-value]


@dataclass(frozen=True)
class HarrisonStevens:
    """Parameters of the multi-process model, variances in units of ``V`` (one per process).

    Parameters
    ----------
    prior:
        ``pi_j``, prior probability of each process at each period (steady, step, slope,
        transient); positive, summing to 1.
    observation:
        ``e_j``, observation variance ``V e_j`` (the transient's is inflated).
    level:
        ``g_j``, level variance ``V g_j`` (the step change's is inflated).
    slope:
        ``d_j``, slope variance ``V d_j`` (the slope change's is inflated).
    initial_level, initial_slope:
        Variances of ``mu`` and ``beta`` (units of ``V``) after a series' first observation,
        which sets ``mu`` (``beta`` starts at 0, vague).
    warmup:
        Number of first observations of a series that :func:`robust_scale` uses.
    dof:
        ``n_0``, degrees of freedom of the prior on ``V`` (worth ``n_0`` observations) at a
        series' first observation, where the estimate ``S_0 = 1`` (the robust scale).
    """

    prior: tuple[float, float, float, float] = (0.91, 0.03, 0.03, 0.03)
    observation: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 100.0)
    level: tuple[float, float, float, float] = (0.01, 25.0, 0.01, 0.01)
    slope: tuple[float, float, float, float] = (1e-4, 1e-4, 25.0, 1e-4)
    initial_level: float = 1.0
    initial_slope: float = 100.0
    warmup: int = 12
    dof: float = 4.0
    _arrays: dict = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        prior = _four("prior", self.prior, positive=True)
        if abs(sum(prior) - 1.0) > 1e-9:
            raise InvalidEconomyError(f"HarrisonStevens.prior must sum to 1, sums to {sum(prior)!r}")
        observation = _four("observation", self.observation, positive=True)
        level = _four("level", self.level, positive=False)
        slope = _four("slope", self.slope, positive=False)
        for name in ("initial_level", "initial_slope"):
            v = getattr(self, name)
            if not (np.isfinite(v) and v > 0):
                raise InvalidEconomyError(f"HarrisonStevens.{name} must be finite and > 0, got {v!r}")
        if not (np.isfinite(self.dof) and self.dof > 0):
            raise InvalidEconomyError(f"HarrisonStevens.dof must be finite and > 0, got {self.dof!r}")
        if isinstance(self.warmup, bool) or not isinstance(self.warmup, (int, np.integer)) or self.warmup < 2:
            raise InvalidEconomyError(f"HarrisonStevens.warmup must be an integer >= 2, got {self.warmup!r}")
        arrays = {
            "log_prior": np.log(np.array(prior)),
            "e": np.array(observation),
            "g": np.array(level),
            "d": np.array(slope),
        }
        object.__setattr__(self, "_arrays", arrays)


@dataclass(frozen=True)
class Forecasts:
    """What :func:`forecast` returns; ``T`` periods, ``S`` series, process axis in :data:`PROCESSES` order.

    Attributes
    ----------
    probabilities:
        ``(T, S, 4)``, ``p_t(j)``: posterior probability of process ``j`` at ``t`` given
        ``y_1..y_t``. Equal to the prior where ``y_t`` is missing or before a series' first
        observation.
    retrospective:
        ``(T, S, 4)``, probability of process ``j`` at ``t`` given ``y_1..y_{t+1}`` (one step
        smoothed). The last period is NaN: it needs the next observation.
    forecast:
        ``(T, S)``, one-step forecast of ``x_t`` from ``x_1..x_{t-1}`` (mixture mean), in the
        series' own units; NaN up to and including a series' first observation.
    sd:
        ``(T, S)``, standard deviation of that mixture forecast distribution.
    error:
        ``(T, S)``, ``x_t - forecast``; NaN where ``x_t`` is missing.
    scale:
        ``(S,)``, the scale each series was divided by.
    """

    probabilities: np.ndarray
    retrospective: np.ndarray
    forecast: np.ndarray
    sd: np.ndarray
    error: np.ndarray
    scale: np.ndarray


def robust_scale(Y: np.ndarray, warmup: int = 12) -> np.ndarray:
    """Per series noise scale from its first ``warmup`` observations.

    ``1.4826 * MAD(diff) / sqrt(2)`` over the first differences of the first ``warmup``
    non-missing values (the MAD is robust to one step or outlier among them, the differences
    remove level and slope); floored at ``1e-3`` of the median absolute value of those
    observations and at ``1e-12``, so a constant series still gets a positive scale. A series
    with fewer than 2 observations gets that floor alone (1 when it has none).

    Parameters
    ----------
    Y:
        ``(T, S)`` observations, NaN where missing.
    warmup:
        How many first observations to use.
    """
    Y = np.asarray(Y, dtype=float)
    T, S = Y.shape
    observed = ~np.isnan(Y)
    rank = np.cumsum(observed, axis=0)  # 1-based rank of each observation in its series
    first = observed & (rank <= warmup)
    # gather the first `warmup` observations of each series into a (warmup, S) block, NaN-padded
    block = np.full((warmup, S), np.nan)
    rows, cols = np.nonzero(first)
    block[rank[rows, cols] - 1, cols] = Y[rows, cols]
    with np.errstate(all="ignore"), _quiet():
        diffs = np.diff(block, axis=0)
        med = np.nanmedian(diffs, axis=0)
        mad = np.nanmedian(np.abs(diffs - med), axis=0)
        sigma = 1.4826 * mad / np.sqrt(2.0)
        typical = np.nanmedian(np.abs(block), axis=0)
    sigma = np.where(np.isnan(sigma), 0.0, sigma)
    typical = np.where(np.isnan(typical), 1.0, typical)
    return np.maximum(np.maximum(sigma, 1e-3 * typical), 1e-12)


class _quiet:
    """Silence numpy's all-NaN-slice warnings (expected for short series)."""

    def __enter__(self) -> None:
        import warnings

        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc: object) -> None:
        self._ctx.__exit__(*exc)


def forecast(Y: np.ndarray, *, params: HarrisonStevens | None = None, scale: np.ndarray | None = None) -> Forecasts:
    """Run the class II multi-process filter over every column of ``Y``.

    Parameters
    ----------
    Y:
        ``(T, S)`` observations ``x_t`` of ``S`` series over ``T`` periods; NaN where missing
        (the state evolves, nothing is observed). Must be finite otherwise.
    params:
        Model parameters; :class:`HarrisonStevens` defaults when omitted.
    scale:
        ``(S,)`` positive noise scale ``sqrt(V)`` of each series in its own units; by default
        :func:`robust_scale` over the first ``params.warmup`` observations.

    Returns
    -------
    Forecasts
    """
    params = HarrisonStevens() if params is None else params
    if not isinstance(params, HarrisonStevens):
        raise InvalidEconomyError(f"params must be a HarrisonStevens, got {type(params).__name__}")
    Y = np.asarray(Y)
    if Y.ndim != 2:
        raise InvalidEconomyError(f"Y must be a 2-D array (periods x series), got {Y.ndim} dimension(s) with shape {Y.shape}")
    if not np.issubdtype(Y.dtype, np.number) or np.issubdtype(Y.dtype, np.complexfloating):
        raise InvalidEconomyError(f"Y must hold real numbers, got dtype {Y.dtype}")
    Y = Y.astype(float, copy=False)
    T, S = Y.shape
    if np.isinf(Y).any():
        t, s = np.argwhere(np.isinf(Y))[0]
        raise InvalidEconomyError(f"Y holds an infinite value at period index {t}, series index {s}")
    if scale is None:
        scale = robust_scale(Y, params.warmup)
    else:
        scale = np.asarray(scale, dtype=float)
        if scale.shape != (S,):
            raise InvalidEconomyError(f"scale must have shape ({S},), one per series, got {scale.shape}")
        bad = ~(np.isfinite(scale) & (scale > 0))
        if bad.any():
            s = int(np.argmax(bad))
            raise InvalidEconomyError(f"scale must be finite and > 0, series index {s} has {scale[s]!r}")

    observed = ~np.isnan(Y)
    first_index = np.argmax(observed, axis=0)
    origin = np.where(observed.any(axis=0), Y[first_index, np.arange(S)], 0.0)
    Z = (Y - origin) / scale

    probabilities = np.empty((T, S, 4))
    retrospective = np.full((T, S, 4), np.nan)
    fz = np.full((T, S), np.nan)
    vz = np.full((T, S), np.nan)
    arr = params._arrays
    prior = np.exp(arr["log_prior"])

    # components: mean (m0 = mu, m1 = beta) and covariance (c00, c01, c11), shape (S, 4) each
    m0 = np.zeros((S, 4))
    m1 = np.zeros((S, 4))
    c00 = np.full((S, 4), params.initial_level)
    c01 = np.zeros((S, 4))
    c11 = np.full((S, 4), params.initial_slope)
    v = np.ones((S, 4))  # S_t(j): estimate of V per component
    n = np.full(S, params.dof)  # degrees of freedom, shared by the components of a series
    logp = np.broadcast_to(arr["log_prior"], (S, 4)).copy()
    live = np.zeros(S, dtype=bool)  # has had its first observation
    for t in range(T):
        z = Z[t]
        obs = observed[t]
        # every series goes through the update; those not started yet are reset below and
        # their outputs replaced (the prior, NaN), which costs less than gathering the live ones
        state = _step(m0, m1, c00, c01, c11, v, n, logp, z, obs, arr)
        m0, m1, c00, c01, c11, v, n, logp, p_now, p_back, f, q = state
        probabilities[t] = np.where(live[:, None], p_now, prior)
        if t > 0:
            # a series not started at t-1 had nothing happen then: its retrospective is the prior
            retrospective[t - 1] = np.where(live[:, None], p_back, prior)
        fz[t] = np.where(live, f, np.nan)
        vz[t] = np.where(live, q, np.nan)
        starting = obs & ~live
        if starting.any():
            m0[starting] = z[starting, None]
            m1[starting] = 0.0
            c00[starting] = params.initial_level
            c01[starting] = 0.0
            c11[starting] = params.initial_slope
            v[starting] = 1.0
            n[starting] = params.dof
            logp[starting] = arr["log_prior"]
            live |= starting
    forecast_x = origin + scale * fz
    sd_x = scale * np.sqrt(vz)
    error = np.where(observed, Y - forecast_x, np.nan)
    return Forecasts(
        probabilities=probabilities,
        retrospective=retrospective,
        forecast=forecast_x,
        sd=sd_x,
        error=error,
        scale=scale,
    )


def _step(m0, m1, c00, c01, c11, v, n, logp, z, obs, arr):  # noqa: ANN001, ANN202 - private, arrays only
    """One period for every series: 4 x 4 updates, weights, collapse by the process at t.

    Axis 1 is the process ``i`` at ``t-1``, axis 2 the process ``j`` at ``t``. Covariances are
    in units of ``V`` (``C*``); ``v`` holds each component's estimate ``S`` of ``V``.
    """
    e_j, g_j, d_j = arr["e"], arr["g"], arr["d"]
    ob = obs[:, None, None]
    # prediction from component i: a = G m, R* = G C* G' + W*_j
    a0 = m0 + m1
    a1 = m1
    r00 = c00 + 2.0 * c01 + c11
    r01 = c01 + c11
    R00 = r00[:, :, None] + (g_j + d_j)[None, None, :]
    R01 = r01[:, :, None] + d_j[None, None, :]
    R11 = c11[:, :, None] + d_j[None, None, :]
    Q = R00 + e_j[None, None, :]  # Q*: forecast variance in units of V
    err = np.where(obs[:, None], z[:, None] - a0, 0.0)  # (n, 4)
    # one-step forecast: mixture over i (p_{t-1}) and j (pi); its spread uses S Q*
    p_prev = np.exp(logp)
    prior = np.exp(arr["log_prior"])
    f = np.einsum("ni,ni->n", p_prev, a0)
    SQ = v[:, :, None] * Q
    spread = np.einsum("ni,nij,j->n", p_prev, SQ, prior) + np.einsum("ni,ni->n", p_prev, (a0 - f[:, None]) ** 2)
    # weights: p_{t-1}(i) pi_j times the Student-t density with n degrees of freedom, scale S Q*
    # (its gamma-function factor is the same for all 16 and cancels)
    E2 = err[:, :, None] ** 2
    nn = n[:, None, None]
    loglik = -0.5 * np.log(SQ) - 0.5 * (nn + 1.0) * np.log1p(E2 / (nn * SQ))
    lw = logp[:, :, None] + arr["log_prior"][None, None, :] + np.where(ob, loglik, 0.0)
    w = np.exp(lw - lw.max(axis=(1, 2), keepdims=True))
    w /= w.sum(axis=(1, 2), keepdims=True)
    p_now = w.sum(axis=1)
    p_back = w.sum(axis=2)
    # update of each (i, j); a missing observation leaves the prediction as it is
    K0 = np.where(ob, R00 / Q, 0.0)
    K1 = np.where(ob, R01 / Q, 0.0)
    M0 = a0[:, :, None] + K0 * err[:, :, None]
    M1 = a1[:, :, None] + K1 * err[:, :, None]
    C00 = R00 - K0 * R00
    C01 = R01 - K0 * R01
    C11 = R11 - K1 * R01
    n_new = n + obs
    Sij = np.where(ob, (nn * v[:, :, None] + E2 / Q) / n_new[:, None, None], v[:, :, None] + 0.0 * Q)
    # collapse over i for each j (West & Harrison 12.3): 1/S_j = sum u/S_ij, m_j = sum u S_j/S_ij m_ij,
    # C*_j = sum u (C*_ij + d d' / S_ij); u normalised within j (robust when p_t(j) underflows)
    u = np.exp(lw - lw.max(axis=1, keepdims=True))
    u /= u.sum(axis=1, keepdims=True)
    uS = u / Sij
    v_new = 1.0 / uS.sum(axis=1)
    us = uS * v_new[:, None, :]
    n0 = np.einsum("nij,nij->nj", us, M0)
    n1 = np.einsum("nij,nij->nj", us, M1)
    D0 = M0 - n0[:, None, :]
    D1 = M1 - n1[:, None, :]
    k00 = np.einsum("nij,nij->nj", u, C00) + np.einsum("nij,nij->nj", uS, D0 * D0)
    k01 = np.einsum("nij,nij->nj", u, C01) + np.einsum("nij,nij->nj", uS, D0 * D1)
    k11 = np.einsum("nij,nij->nj", u, C11) + np.einsum("nij,nij->nj", uS, D1 * D1)
    with np.errstate(divide="ignore"):
        logp_new = np.log(p_now)
    return n0, n1, k00, k01, k11, v_new, n_new, logp_new, p_now, p_back, f, spread
