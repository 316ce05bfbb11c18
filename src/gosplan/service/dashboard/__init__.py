"""The bureau's dashboard: server-rendered pages under ``/dashboard`` with plotly.js served by the
service itself (:mod:`~gosplan.service.dashboard.pages`), and the figures they draw
(:mod:`~gosplan.service.dashboard.figures`, pure functions of the stored plan payloads and reports)."""

from gosplan.service.dashboard.pages import router

__all__ = ["router"]
