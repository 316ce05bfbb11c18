"""Reports people look at rather than read: self-contained HTML with inline SVG charts.

:func:`plan_html` turns the frames of a multi-year plan into one HTML document (no external
scripts, fonts, styles or images); :func:`write_plan_html` writes it to a file. The charts
come from :mod:`gosplan.report.svg`, which needs nothing beyond the standard library.
"""

from gosplan.report.html import plan_html, write_plan_html

__all__ = ["plan_html", "write_plan_html"]
