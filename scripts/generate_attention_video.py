#!/usr/bin/env python
"""Render a word's attention video: the same command as ``attention-visual video``.

Usage::

    python scripts/generate_attention_video.py --attention-dir outputs/b/attention_maps \\
        --video-id prompt_001_vid_001 --word kiss --output kiss.mp4
    python scripts/generate_attention_video.py --attention-dir outputs/b/attention_maps --list-available

Every option is documented by ``--help`` and in docs/visualization.md.
"""

from __future__ import annotations

import sys

from attention_visual.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["video", *sys.argv[1:]]))
