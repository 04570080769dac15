"""The batch report: one self-contained HTML page to browse a batch's videos, words, steps and plots.

``write_report(batch_dir)`` writes ``batch_dir/report/index.html`` from the stored files alone (no model,
no server, no network): the page links the batch's videos relatively and shows each word's map through
small PNG sprites it writes next to itself. See docs/report.md.

Example:
    >>> from attention_visual.report import write_report
    >>> write_report("outputs/batch")
    PosixPath('outputs/batch/report/index.html')
"""

from attention_visual.report.build import build_view, write_report
from attention_visual.report.collect import ReportView, collect_batch

__all__ = ["ReportView", "build_view", "collect_batch", "write_report"]
