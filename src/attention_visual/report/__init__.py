"""The batch report: one web page to browse a batch's videos, words, steps and statistics.

``write_report(batch_dir)`` writes ``batch_dir/report/index.html`` from the stored files alone (no model,
no server, no network). It is made in two steps that a running batch can take apart:
``build_video_assets(batch_dir, video_id)`` makes one video's assets once, when the video is finished (safe
in a worker process), and ``assemble(batch_dir)`` puts the page together from them in seconds. See
docs/report.md.

Example:
    >>> from attention_visual.report import write_report
    >>> write_report("outputs/batch")
    PosixPath('outputs/batch/report/index.html')
"""

from attention_visual.report.build import assemble, write_report
from attention_visual.report.collect import ReportView, collect_batch
from attention_visual.report.video_assets import VideoAssets, build_video_assets

__all__ = ["ReportView", "VideoAssets", "assemble", "build_video_assets", "collect_batch", "write_report"]
