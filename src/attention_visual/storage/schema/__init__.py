"""The map schema: what one stored map is (:mod:`.metadata`), how its latent frames map to video frames
(:mod:`.frames`) and how its leading axes reduce to the ``[frame, y, x]`` grid (:mod:`.reduce`).

Both map layouts (the files layout and the packed store) store this schema; nothing here touches a file.
"""
