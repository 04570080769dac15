"""From a stored array with leading axes to the ``[frame, y, x]`` latent grid every view shows.

Example:
    >>> import numpy as np
    >>> from attention_visual.storage.schema.metadata import MapMetadata, LatentGrid, VideoDimensions
    >>> meta = MapMetadata(video_id="v", token_word="kiss", shape=(2, 3, 2, 5), dtype="float32",
    ...     axes=("head", "frame", "y", "x"), num_steps=1, steps_used=(0,), step_index=0,
    ...     aggregation_method="per_step", video_dimensions=VideoDimensions(80, 32, 16.0, 9),
    ...     token_grid=LatentGrid(3, 2, 5), latent_to_video_frames=((0, 0), (1, 4), (5, 8)))
    >>> heads = np.stack([np.zeros((3, 2, 5)), np.ones((3, 2, 5))])  # [head, frame, y, x]
    >>> to_grid(heads, meta)[0, 0, 0]  # the mean over heads
    np.float32(0.5)
"""

from __future__ import annotations

import numpy as np

from attention_visual.errors import NotFoundError
from attention_visual.storage.schema.metadata import MapMetadata


def to_grid(array: np.ndarray, metadata: MapMetadata, pass_name: str = "cond") -> np.ndarray:
    """Reduce ``[*outer, *leading, frame, y, x]`` to ``[*outer, frame, y, x]`` float32.

    ``metadata.axes`` names the trailing dimensions (one stored map); dimensions before them
    (``outer``, e.g. the step axis of a stack of maps sharing that metadata) are kept.
    A ``pass`` axis (``guidance_pass: both``) is indexed by ``pass_name``; ``block`` and ``head`` axes
    are averaged (the default capture already averaged them).

    Raises:
        NotFoundError: ``pass_name`` was not stored (the message lists the stored passes).
    """
    arr = np.asarray(array, dtype=np.float32)  # [*outer, *leading, frame, y, x]
    axes = list(metadata.axes)
    outer = arr.ndim - len(axes)
    passes = list(metadata.passes)
    if pass_name not in passes:
        raise NotFoundError(f"pass {pass_name!r} not stored; available passes: {', '.join(passes) or '(none)'}")
    if "pass" in axes:
        arr = np.take(arr, passes.index(pass_name), axis=outer + axes.index("pass"))
        axes.remove("pass")
    leading = tuple(range(outer, outer + len(axes) - 3))
    return arr.mean(axis=leading) if leading else arr


__all__ = ["to_grid"]
