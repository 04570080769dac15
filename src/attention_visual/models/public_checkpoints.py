"""The public checkpoints' architectures, shipped with the package, and full-width random transformers.

``attention_visual/models/configs/<name>.json`` holds, for each public checkpoint, what its
``transformer/config.json``, ``model_index.json`` and VAE config say about the architecture (the
numbers of diffusers' ``scripts/convert_wan_to_diffusers.py`` and the Hub configs; no weights). The
README's table lists them (width, layers, pixels per token, experts).
Every Wan text branch is 4096 wide (UMT5-XXL) with 512 text tokens; so are the Wan derivatives'
(``skyreels-v2-*``: the numbers of diffusers' ``scripts/convert_skyreelsv2_to_diffusers.py``; ``chronoedit-14b``:
Wan2.1-I2V-14B-720P's transformer, which ChronoEdit fine-tunes, as ``ChronoEditTransformer3DModel`` with its
``rope_temporal_skip_len`` 8; ``lucy-edit-*``: Wan2.2-TI2V-5B's with 96 input channels, the edited video's latents
concatenated to the noise). The LTX-Video 0.9.x files
(``ltx-video-*``: the numbers of diffusers' ``scripts/convert_ltx_to_diffusers.py``) also keep the
scheduler's shifting (``scheduler``); their text branch is T5-v1.1-XXL (4096) with 128 tokens. The
CogVideoX files (``cogvideox*``: the Hub configs of ``THUDM/CogVideoX*``) have T5-v1.1-XXL with 226 tokens.
The LTX-2 files (``ltx-2``, ``ltx-2.3``: the numbers of diffusers' ``scripts/convert_ltx2_to_diffusers.py``,
the ``model_index.json`` of the components ``LTX2Pipeline`` takes) also keep the text connectors'
configuration (``connectors``): Gemma-3-12B's 49 hidden states of 3840 channels, 1024 text keys with 128
learned registers.
:func:`build_transformer` makes a random-weight transformer of a checkpoint's exact width, offline, with
as few blocks as asked (the capture benchmark uses 2).

Example:
    >>> arch = load_architecture("wan2.2-ti2v-5b")
    >>> arch.transformer["num_attention_heads"], arch.pixels_per_cell, arch.checkpoint.expand_timesteps
    (24, 32, True)
    >>> "wan2.1-t2v-1.3b" in architecture_names()
    True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from attention_visual.errors import ConfigError
from attention_visual.families import read_model_index
from attention_visual.families.registry import CheckpointSpec
from attention_visual.models.architecture import architecture_names, shipped_config, shipped_config_of


@dataclass(frozen=True)
class Architecture:
    """One public checkpoint's architecture (a shipped ``configs/<name>.json``).

    Attributes:
        name: E.g. ``"wan2.2-ti2v-5b"``.
        hub_id: The Hugging Face repo of the diffusers checkpoint.
        model_index: The pipeline-level entries of its ``model_index.json``.
        vae: ``z_dim``, ``scale_factor_spatial``, ``scale_factor_temporal`` (and the 5B VAE's extras).
        transformer: Its ``transformer/config.json`` (``_class_name`` included).
        scheduler: What its ``scheduler_config.json`` says about the shifting (LTX-Video; empty for Wan).
        connectors: Its text connectors' ``config.json`` (LTX-2; empty for the others).
    """

    name: str
    hub_id: str
    model_index: Mapping[str, Any]
    vae: Mapping[str, Any]
    transformer: Mapping[str, Any]
    scheduler: Mapping[str, Any] = field(default_factory=dict)
    connectors: Mapping[str, Any] = field(default_factory=dict)

    @property
    def checkpoint(self) -> CheckpointSpec:
        """The pipeline-level facts (class, experts, boundary_ratio, expand_timesteps)."""
        return read_model_index(self.model_index, self.name)

    @property
    def pixels_per_cell(self) -> int:
        """Video pixels per token side: the VAE's spatial factor times the transformer's spatial patch (16 or 32).

        The VAE's factor is ``scale_factor_spatial`` (Wan) or ``spatial_compression_ratio`` (LTX-Video); the
        patch is ``patch_size[1]`` of a ``[t, h, w]`` patch (Wan) or an ``int`` (LTX-Video).
        """
        factor = self.vae.get("scale_factor_spatial", self.vae.get("spatial_compression_ratio"))
        patch = self.transformer["patch_size"]
        return int(factor) * int(patch[1] if isinstance(patch, list) else patch)

    @property
    def width(self) -> int:
        """The transformer's model width: heads × head dim (1536, 3072 or 5120)."""
        return int(self.transformer["num_attention_heads"]) * int(self.transformer["attention_head_dim"])


def load_architecture(name: str) -> Architecture:
    """Read the shipped architecture ``name`` (see :func:`architecture_names`).

    Raises:
        ConfigError: There is no such architecture (the message lists the names).
    """
    data = shipped_config(name)
    return Architecture(
        name=data["name"],
        hub_id=data["hub_id"],
        model_index=data["model_index"],
        vae=data["vae"],
        transformer=data["transformer"],
        scheduler=data.get("scheduler", {}),
        connectors=data.get("connectors", {}),
    )


def architecture_of_checkpoint(hub_id: str) -> Architecture | None:
    """The shipped architecture of the public checkpoint ``hub_id`` (case-insensitive), or None.

    Example:
        >>> architecture_of_checkpoint("lightricks/LTX-Video").name
        'ltx-video-0.9.0'
    """
    data = shipped_config_of(hub_id)
    return None if data is None else load_architecture(data["name"])


def build_transformer(
    architecture: str | Architecture,
    *,
    num_layers: int | None = None,
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "cpu",
) -> torch.nn.Module:
    """A random-weight transformer of a shipped architecture, built offline with ``from_config``.

    Args:
        architecture: A name from :func:`architecture_names` or an :class:`Architecture`.
        num_layers: Blocks to build (default: all, as the checkpoint). VACE keeps its control blocks
            that fall below ``num_layers``; a model with single-stream blocks too builds as many of those.
        seed: Seed of the random weights (the caller's random state is left untouched).
        dtype: Parameter dtype.
        device: Where the parameters live; ``"meta"`` builds the shapes only, instantly.

    Returns:
        The checkpoint's transformer class (``WanTransformer3DModel``, ``SkyReelsV2Transformer3DModel``,
        ``ChronoEditTransformer3DModel``, ``CogVideoXTransformer3DModel``, ``LTXVideoTransformer3DModel``,
        ``LTX2VideoTransformer3DModel``, ...) in eval mode.

    Raises:
        ConfigError: Unknown architecture or ``num_layers < 1``.

    Example:
        >>> model = build_transformer("wan2.1-t2v-1.3b", num_layers=1)
        >>> model.blocks[0].attn2.to_q.in_features, len(model.blocks)
        (1536, 1)
    """
    arch = load_architecture(architecture) if isinstance(architecture, str) else architecture
    config = dict(arch.transformer)
    if num_layers is not None:
        if num_layers < 1:
            raise ConfigError(f"num_layers must be >= 1, got {num_layers}")
        config["num_layers"] = num_layers
        if "num_single_layers" in config:  # a second stream of blocks (HunyuanVideo): as many of those
            config["num_single_layers"] = num_layers
    import diffusers  # deferred: the class named by the config, resolved by diffusers' lazy module

    model_cls: Any = getattr(diffusers, config.pop("_class_name"))
    if "vace_layers" in config:  # control blocks below num_layers only
        config["vace_layers"] = [i for i in config["vace_layers"] if i < config["num_layers"]] or [0]
    if torch.device(device).type == "meta":  # shapes only: no weights drawn, nothing allocated
        with torch.device("meta"):
            model = model_cls.from_config(config)
    else:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = model_cls.from_config(config)
    module: torch.nn.Module = model.to(device=device).eval()
    if dtype != torch.float32:  # diffusers warns on every dtype .to(), even a no-op
        module.to(dtype)
    return module


__all__ = ["Architecture", "architecture_names", "build_transformer", "load_architecture"]
