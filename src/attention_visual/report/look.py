"""The report's look: the colormap and normalisation its map sprites are drawn with.

Given ones win; otherwise the batch config's ``attention_analysis.visualization_params``, else ``hot`` and
``global``. Both the per-video assets (:mod:`.video_assets`) and the page use :func:`resolve_look`, so a
look is checked once, before anything is written.
"""

from __future__ import annotations

import logging
from pathlib import Path

from attention_visual.config import load_config
from attention_visual.errors import ConfigError
from attention_visual.render.colormap import check_colormap
from attention_visual.render.options import NORMALIZATIONS
from attention_visual.storage.batch.layout import CONFIG_FILE
from attention_visual.storage.batch.manifest import one_line

log = logging.getLogger(__name__)


def render_settings(batch_dir: Path) -> tuple[str, str]:
    """``(colormap, normalization)`` of the batch's ``config.yaml``; ``("hot", "global")`` without one."""
    config_path = batch_dir / CONFIG_FILE
    if config_path.is_file():
        try:
            params = load_config(config_path).attention_analysis.visualization_params
            return params.colormap, params.normalization
        except ConfigError as exc:
            log.warning("cannot read %s (%s): using the default colormap", config_path, one_line(exc))
    return "hot", "global"


def resolve_look(batch_dir: Path, colormap: str | None, normalization: str | None) -> tuple[str, str]:
    """The checked ``(colormap, normalization)``: the ones given, else the batch config's (:func:`render_settings`).

    Raises:
        RenderError: Unknown colormap.
        ConfigError: Unknown normalisation.
    """
    if colormap is None or normalization is None:
        default_cmap, default_norm = render_settings(batch_dir)
        colormap, normalization = colormap or default_cmap, normalization or default_norm
    colormap = check_colormap(colormap)
    if normalization not in NORMALIZATIONS:
        raise ConfigError(f"normalization must be one of {', '.join(NORMALIZATIONS)}, got {normalization!r}")
    return colormap, normalization


__all__ = ["render_settings", "resolve_look"]
