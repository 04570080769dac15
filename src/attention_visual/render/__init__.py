"""Pixels: turning maps into frames and frames into video files, fast.

Modules (import them directly; nothing is imported here so that reading maps stays light):

* :mod:`.options`: ``RenderOptions``, the validated ``visualization_params``.
* :mod:`.colormap`: matplotlib colormaps as lookup tables; close-name suggestions.
* :mod:`.normalize`: explicit normalisation (global, per step, per frame, percentile).
* :mod:`.resize`: vectorised bilinear upsampling of maps on the latent grid.
* :mod:`.frames`: per-frame numpy work (colour, upsample, blend, progress bar).
* :mod:`.text`: per-frame text, rendered once per distinct string.
* :mod:`.canvas`: static frame backgrounds drawn once with matplotlib; shared drawing helpers.
* :mod:`.step_grid`: the step-video frame (panel grid, colorbar, footer).
* :mod:`.strip`: the overlay frame (exact-size panels, captions, colorbar column, timestamp line).
* :mod:`.sources`: the three videos as lazy frame streams; ``write_video``.
* :mod:`.videos`: build those streams from maps and metadata.
* :mod:`.encoder`: streaming, atomic encoding through imageio-ffmpeg's ffmpeg.
* :mod:`.video_reader`: probe and stream-decode the generated video, resampled.
"""
