"""Write the small input image of the example configs: configs/inputs/example.png (a few KB).

Deterministic: a soft colour gradient with a sun and a hill, 208 x 120 pixels (the 832 x 480 aspect
ratio of Wan's 480p videos). The file is committed; rerun this script only to change it.

Usage:
    python scripts/make_example_inputs.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

OUT = Path(__file__).resolve().parents[1] / "configs" / "inputs" / "example.png"
WIDTH, HEIGHT = 208, 120


def example_image() -> Image.Image:
    """The example image: a sky gradient, a yellow sun and a green hill."""
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float64)  # [y, x]
    sky = np.stack([90 + 60 * y / HEIGHT, 140 + 60 * y / HEIGHT, np.full_like(y, 235)], axis=-1)  # [y, x, rgb]
    sun = (x - 150) ** 2 + (y - 35) ** 2 < 18**2
    hill = y > 85 + 15 * np.cos((x - 60) / 40)
    pixels = sky
    pixels[sun] = (250, 210, 60)
    pixels[hill] = (70, 150, 70)
    return Image.fromarray(pixels.round().astype(np.uint8), "RGB")


def main() -> None:
    OUT.parent.mkdir(parents=True, exist_ok=True)
    example_image().save(OUT, optimize=True)
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
