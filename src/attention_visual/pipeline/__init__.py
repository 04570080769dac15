"""The batch job: generate every video of a config with attention capture, resumably, on 1..N processes.

``attention-visual generate CONFIG`` is :func:`run_batch`; docs/batch.md is the user's guide.

Modules, one job each:

* :mod:`.plan`: config → video jobs (ids, seeds, relative paths); pure.
* :mod:`.validation`: everything checked before a model loads (prompts against the tokenizer).
* :mod:`.resume`: which batch folder, which videos are finished, clearing unfinished ones.
* :mod:`.generation`: one video: pipeline call under the capture, video file, maps.
* :mod:`.rendering`: the automatic attention videos (per video, at batch end).
* :mod:`.merge`: the merged ``manifest.json`` (its schema: :mod:`attention_visual.storage.batch.manifest`).
* :mod:`.distributed`: ``torchrun`` ranks; :mod:`.summary`: the result, exit status and summary.
* :mod:`.batch`: the loop that ties them together.

Example:
    >>> from attention_visual.config import load_config
    >>> from attention_visual.pipeline import run_batch
    >>> result = run_batch(load_config("configs/tiny_demo.yaml"), Path("configs/tiny_demo.yaml"))  # doctest: +SKIP
"""

from __future__ import annotations

from attention_visual.lazy import lazy_exports
from attention_visual.storage.batch.manifest import (
    MANIFEST_SCHEMA_VERSION,
    Manifest,
    PromptRecord,
    RenderRecord,
    Timings,
    VideoPaths,
    VideoRecord,
    read_manifest,
)

# The runner pulls in torch and diffusers; the manifest schema does not. Readers of a finished
# batch (the report, the analyzer) import only the schema, so the rest loads on first use.
__getattr__ = lazy_exports(
    __name__,
    {
        "BatchOptions": ".batch",
        "run_batch": ".batch",
        "RankContext": ".distributed",
        "VideoJob": ".plan",
        "plan_batch": ".plan",
        "BatchResult": ".summary",
        "format_summary": ".summary",
    },
)


__all__ = [
    "MANIFEST_SCHEMA_VERSION",
    "BatchOptions",
    "BatchResult",
    "Manifest",
    "PromptRecord",
    "RankContext",
    "RenderRecord",
    "Timings",
    "VideoJob",
    "VideoPaths",
    "VideoRecord",
    "format_summary",
    "plan_batch",
    "read_manifest",
    "run_batch",
]
