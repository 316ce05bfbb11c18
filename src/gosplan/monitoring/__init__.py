"""Cyberstride-style monitoring: the Harrison–Stevens multi-process forecaster flags
transients, step and slope changes in enterprise indicators; unresolved alerts escalate from
the enterprise to its ministry and to the centre (:mod:`gosplan.monitoring.forecaster`,
:mod:`gosplan.monitoring.alerts`)."""

from gosplan.monitoring.alerts import ALERT_COLUMNS, LEVELS, Monitoring, monitor, monitor_arrays
from gosplan.monitoring.forecaster import PROCESSES, Forecasts, HarrisonStevens, forecast, robust_scale

__all__ = ["monitor", "monitor_arrays", "Monitoring", "ALERT_COLUMNS", "LEVELS", "PROCESSES", "HarrisonStevens", "Forecasts", "forecast", "robust_scale"]
