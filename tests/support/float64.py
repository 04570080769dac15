"""Float64 building blocks of the explicit-softmax references the exactness tests compare maps against.

Import as ``from support.float64 import linear64`` (tests/ is on pytest's pythonpath).
"""

from __future__ import annotations

import torch


def linear64(x: torch.Tensor, layer: torch.nn.Linear) -> torch.Tensor:
    """``layer(x)`` computed in float64 from the layer's own weight and bias (None: no bias)."""
    bias = None if layer.bias is None else layer.bias.double()
    return torch.nn.functional.linear(x.double(), layer.weight.double(), bias)
