"""Reports: data profile, check report, model card, quality report and data card as
standalone HTML (and PDF through headless chromium), with matplotlib charts as inline SVG.

Rendering only: plain dicts, dataclasses and DataFrames in (the services compute them), HTML
out; no database, no services. ``import truthset.reports`` loads Jinja2, not matplotlib,
numpy or pandas: the charts import them when drawn.
"""

from truthset.reports.pdf import PdfError, to_pdf
from truthset.reports.plots import (
    bar_chart,
    confusion_heatmap,
    histogram,
    learning_curve_chart,
    line_chart,
    reliability_chart,
)
from truthset.reports.render import (
    render_check_report,
    render_data_card,
    render_drift_report,
    render_model_card,
    render_profile,
    render_quality_report,
)

__all__ = [
    "PdfError",
    "bar_chart",
    "confusion_heatmap",
    "histogram",
    "learning_curve_chart",
    "line_chart",
    "reliability_chart",
    "render_check_report",
    "render_data_card",
    "render_drift_report",
    "render_model_card",
    "render_profile",
    "render_quality_report",
    "to_pdf",
]
