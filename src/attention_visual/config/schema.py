"""The typed, validated configuration of a batch: frozen dataclasses, one per YAML section.

Each field carries its default and one *check* (see :mod:`attention_visual.config.validation`);
``__post_init__`` runs the checks, so every instance is valid however it was built, and each
error names the full dotted key::

    >>> GenerationConfig(height=470)
    Traceback (most recent call last):
    ...
    attention_visual.errors.ConfigError: generation.height must be a multiple of 16 for Wan, got 470

Normally a config comes from :func:`attention_visual.config.load_config`, which also reports
unknown keys, reads ``prompts_file`` and applies ``--set`` overrides.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from attention_visual.config import limits
from attention_visual.config import validation as v
from attention_visual.config.family_checks import check_analysis, check_generation
from attention_visual.config.inputs import PromptInputs
from attention_visual.config.models import COMPARISON_MODEL_ID, ModelEntry, replace_settings, with_model_key
from attention_visual.errors import ConfigError
from attention_visual.families import AUTO_TASK, ModelFamily, Variant, all_tasks, default_family, family_of_model
from attention_visual.storage.files.layout import PACKED_FORMAT

#: Accepted values of ``generation.dtype``.
DTYPES = ("auto", "float32", "bfloat16", "float16")
#: Accepted values of ``generation.pipeline``: ``auto`` and every task some model family runs.
PIPELINES = (AUTO_TASK, *all_tasks())

#: Accepted values of ``attention_analysis.storage_format``.
STORAGE_FORMATS = ("numpy", "torch", PACKED_FORMAT)

_DEVICE = v.matches(r"auto|cpu|mps|cuda(:\d+)?", "one of 'auto', 'cpu', 'cuda', 'cuda:N', 'mps'")
#: Frame sides and counts: positive here; the model family's multiples and frame rule are checked with it
#: (:mod:`attention_visual.config.family_checks`).
_PIXELS = v.integer(min_value=1)
_FRAMES = v.integer(min_value=1)
_FOLDER_NAME = v.matches(
    r"[A-Za-z0-9_-][A-Za-z0-9._-]*",
    "a folder name of letters, digits, '.', '_' and '-' that does not start with a dot",
)


_check = v.checked


def _section(cls: type[Any]) -> dict[str, Any]:
    """Field metadata of a nested section: its class (the loader builds it from a mapping)."""
    return {"section": cls, "check": v.instance_of(cls)}


def _plain(value: Any) -> Any:
    """Turn a config value into plain YAML-safe data (dicts, lists, str, numbers, bools, None)."""
    if isinstance(value, _Section):
        return value.to_dict()
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, Path):
        return str(value)
    return value


class _Section:
    """Behaviour shared by the config dataclasses: validation on construction and ``to_dict``."""

    #: Dotted key of the section ("" for the top level); error messages start with it.
    KEY: ClassVar[str] = ""

    def __post_init__(self) -> None:
        v.validate_fields(self, self.KEY)

    def to_dict(self) -> dict[str, Any]:
        """Return the section as plain data (tuples become lists, paths strings), in field order."""
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}  # type: ignore[arg-type]


@dataclass(frozen=True)
class GenerationConfig(_Section):
    """How the videos are generated (the ``generation:`` section).

    Attributes:
        model_id: A Hugging Face model id, a local diffusers folder, or ``"tiny"`` for the embedded
            random-weight model used by tests.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"``.
        dtype: ``"auto"``, ``"float32"``, ``"bfloat16"`` or ``"float16"``.
        num_inference_steps: Denoising steps (>= 1).
        guidance_scale: Classifier-free guidance scale (>= 0); guidance is on when it is > 1.
        negative_prompt: Text of the unconditional branch when guidance is on.
        height: Frame height in pixels, a positive multiple of the model family's (Wan: 16).
        width: Frame width in pixels, a positive multiple of the model family's (Wan: 16).
        num_frames: Frames per video, of the model family's form (Wan: 4k+1, the VAE compresses time by 4
            and keeps the first frame).
        fps: Frames per second of the saved video (>= 1), or None for the model family's (Wan: 16).
        seed: Seed of the first video; video ``i`` of the batch uses ``seed + i``, which must be < 2**63.
        videos_per_prompt: Videos generated for each prompt (>= 1).
        max_sequence_length: Text tokens given to the encoder (up to the family's limit, Wan: 512), or None
            for the family's default (Wan: 512).
        enable_model_cpu_offload: Keep idle sub-models on the CPU (saves GPU memory, slower).
        flow_shift: Scheduler shift (> 0), or None for the model's own; Wan advises 3.0 for 480p.
        pipeline: ``"auto"`` (the checkpoint's own pipeline class) or the task to run, one of its family's
            (Wan: ``"t2v"``, ``"i2v"``, ``"flf2v"``, ``"vace"``, ``"v2v"``; e.g. ``i2v`` on Wan2.2-TI2V-5B).

    The family's checks (:mod:`~attention_visual.config.family_checks`) run as soon as ``model_id`` says the
    family; a Hub id no family lists is checked when its config files are read, before any weight loads.
    """

    KEY: ClassVar[str] = "generation"

    model_id: str = field(default=default_family().default_checkpoint, metadata=_check(v.string(allow_empty=False)))
    device: str = field(default="auto", metadata=_check(_DEVICE))
    dtype: str = field(default="auto", metadata=_check(v.choice(*DTYPES)))
    num_inference_steps: int = field(default=50, metadata=_check(v.integer(min_value=1)))
    guidance_scale: float = field(default=5.0, metadata=_check(v.number(min_value=0)))
    negative_prompt: str = field(default="", metadata=_check(v.string()))
    height: int = field(default=480, metadata=_check(_PIXELS))
    width: int = field(default=832, metadata=_check(_PIXELS))
    num_frames: int = field(default=81, metadata=_check(_FRAMES))
    fps: int | None = field(default=None, metadata=_check(v.optional(v.integer(min_value=1))))
    seed: int = field(default=42, metadata=_check(v.integer(min_value=0)))
    videos_per_prompt: int = field(default=1, metadata=_check(v.integer(min_value=1)))
    max_sequence_length: int | None = field(default=None, metadata=_check(v.optional(v.integer(min_value=1))))
    enable_model_cpu_offload: bool = field(default=False, metadata=_check(v.boolean()))
    flow_shift: float | None = field(default=None, metadata=_check(v.optional(v.number(min_value=0, min_open=True))))
    pipeline: str = field(default=AUTO_TASK, metadata=_check(v.choice(*PIPELINES)))

    def __post_init__(self) -> None:
        super().__post_init__()
        family = self.family
        if family is not None:
            check_generation(self, family)

    @property
    def family(self) -> ModelFamily | None:
        """The model family ``model_id`` names, when that is known without loading it (see
        :func:`~attention_visual.families.family_of_model`)."""
        return None if self.model_id == COMPARISON_MODEL_ID else family_of_model(self.model_id)

    def video_fps(self, family: ModelFamily, variant: Variant | None = None) -> int:
        """``fps``, or the variant's (else the family's) default when the config gives none."""
        return self.fps if self.fps is not None else family.fps_of(variant)

    @property
    def uses_guidance(self) -> bool:
        """True when classifier-free guidance is on (``guidance_scale > 1``), i.e. there is an uncond pass."""
        return self.guidance_scale > 1.0


@dataclass(frozen=True)
class VisualizationParams(_Section):
    """How attention maps are rendered (``attention_analysis.visualization_params:``).

    Attributes:
        figsize: Figure size ``(width, height)`` in inches, each side 0.64..76.8 (64..7680 px at 100 dpi).
        colormap: A matplotlib colormap name.
        overlay_alpha: Opacity of the heatmap over the video frame, in [0, 1].
        static_duration: Seconds each still image of a step is shown, in (0, 3600].
        fps: Frames per second of the rendered attention videos, 1..240.
        interpolation_steps: Frames blended between two consecutive steps, 0..120.
        include_colorbar: Draw a colorbar next to the heatmap.
        video_format: ``"mp4"``, ``"avi"`` or ``"gif"``.
        normalization: ``"global"``, ``"per_step"``, ``"per_frame"`` or ``"percentile"``.
    """

    KEY: ClassVar[str] = "attention_analysis.visualization_params"

    figsize: tuple[float, float] = field(default=(12.0, 8.0), metadata=_check(limits.FIGSIZE))
    colormap: str = field(default="hot", metadata=_check(v.colormap()))
    overlay_alpha: float = field(default=0.6, metadata=_check(limits.OVERLAY_ALPHA))
    static_duration: float = field(default=3.0, metadata=_check(limits.STATIC_DURATION))
    fps: int = field(default=10, metadata=_check(v.integer(min_value=1, max_value=limits.MAX_RENDER_FPS)))
    interpolation_steps: int = field(default=2, metadata=_check(limits.INTERPOLATION_STEPS))
    include_colorbar: bool = field(default=True, metadata=_check(limits.FLAG))
    video_format: str = field(default="mp4", metadata=_check(limits.VIDEO_FORMAT))
    normalization: str = field(default="global", metadata=_check(limits.NORMALIZATION))


@dataclass(frozen=True)
class AttentionAnalysisConfig(_Section):
    """What attention is captured, how it is stored and when it is rendered (``attention_analysis:``).

    Attributes:
        store_attention: Save the per-word attention maps of each video.
        store_aggregated_attention: Also save maps aggregated over steps and blocks.
        aggregated_storage_format: ``"numpy"`` or ``"torch"`` for the aggregated maps (with ``storage_format:
            zarr``: the format ``unpack`` writes them in).
        auto_generate_videos: Render every video's attention videos at the end of the batch.
        auto_generate_per_video: Render a video's attention videos as soon as it is generated.
        storage_format: ``"numpy"`` (``.npz``) or ``"torch"`` (``.pt``) files for the per-step maps, in the
            files layout ``attention_maps/``; or ``"zarr"``: every map into the batch's packed store
            ``attention_maps.zarr`` as each video finishes (what ``pack`` makes of a ``numpy`` batch; needs
            the ``analysis`` extra, checked by :func:`~attention_visual.pipeline.validation.check_runnable`).
        compress_attention: Compress stored maps (with ``zarr``: how ``unpack`` writes the ``.npz`` files).
        storage_dtype: ``"float32"`` or ``"float16"``.
        store_per_head: Keep maps per attention head instead of averaging heads.
        store_per_block: Keep maps per transformer block instead of averaging blocks.
        spatial_downsample_factor: Pool maps spatially by this factor before storing (>= 1).
        guidance_pass: Which pass to capture: ``"cond"``, ``"uncond"`` or ``"both"``; the last two need
            classifier-free guidance (``generation.guidance_scale > 1``).
        padding: ``"include"`` or ``"exclude"`` the padding tokens from the softmax.
        token_reduction: How a word's sub-tokens are combined: ``"sum"``, ``"mean"`` or ``"max"``.
        blocks: Block indices to capture (sorted, unique, < the transformer's ``num_layers``, checked
            by :func:`~attention_visual.pipeline.validation.check_runnable`), or None for all. Names
            such as ``"blocks.7.attn2"`` (``"vace_blocks.3.attn2"`` with that ``block_list``) are accepted
            and turned into indices.
        steps: Step indices to select (sorted, unique, < ``generation.num_inference_steps``), or None
            for all.
        storage_interval: Keep every n-th of the steps selected by ``steps`` (>= 1), starting with the
            first: ``steps: [1, 3, 5]`` with ``storage_interval: 2`` keeps steps 1 and 5.
        generate_report: Write a report of the batch.
        image_map: Models with an image branch only (Wan2.1 I2V/FLF2V-14B): also store the pseudo-word
            ``<image>``, per grid cell the image branch's share ‖o_img‖ / (‖o_img‖ + ‖o_txt‖) of the
            cross-attention output.
        block_list: None (the model's main stream: ``blocks`` on Wan) or another module list it has (on
            Wan VACE ``"vace_blocks"``, the control stream).
        joint_attention: Joint-attention models only (text and video keys in one softmax): ``"text"``
            (default) the word's share of the attention that goes to text; ``"full"`` its share of the
            whole softmax. ``"full"`` on a cross-attention family is an error.
        text_share_map: Joint-attention models only: also store the pseudo-word ``<text>``, per grid cell (video
            query) the fraction of its attention that goes to the prompt's text keys.
        glyph_map: Models with glyph keys only (HunyuanVideo-1.5): also store the pseudo-word ``<glyph>``, per
            grid cell the fraction of its attention that goes to the byT5 tokens of the prompt's quoted text.
        render_workers: Worker processes that render the attention videos and make the report's assets
            of each finished video while the next one generates: ``"auto"`` (the cores the generation
            leaves free, at most 4) or a number; 0 renders in the batch's own process, between videos.
            How the batch runs, not what it makes: a batch resumes whatever this says.
        visualization_params: How maps are rendered.
    """

    KEY: ClassVar[str] = "attention_analysis"

    store_attention: bool = field(default=True, metadata=_check(v.boolean()))
    store_aggregated_attention: bool = field(default=True, metadata=_check(v.boolean()))
    aggregated_storage_format: str = field(default="numpy", metadata=_check(v.choice("numpy", "torch")))
    auto_generate_videos: bool = field(default=False, metadata=_check(v.boolean()))
    auto_generate_per_video: bool = field(default=True, metadata=_check(v.boolean()))
    storage_format: str = field(default="numpy", metadata=_check(v.choice(*STORAGE_FORMATS)))
    compress_attention: bool = field(default=True, metadata=_check(v.boolean()))
    storage_dtype: str = field(default="float32", metadata=_check(limits.STORAGE_DTYPE))
    store_per_head: bool = field(default=False, metadata=_check(limits.FLAG))
    store_per_block: bool = field(default=False, metadata=_check(limits.FLAG))
    spatial_downsample_factor: int = field(default=1, metadata=_check(limits.SPATIAL_DOWNSAMPLE_FACTOR))
    guidance_pass: str = field(default="cond", metadata=_check(limits.GUIDANCE_PASS))
    padding: str = field(default="include", metadata=_check(limits.PADDING))
    token_reduction: str = field(default="sum", metadata=_check(limits.TOKEN_REDUCTION))
    blocks: tuple[int, ...] | None = field(default=None, metadata=_check(limits.BLOCKS))
    steps: tuple[int, ...] | None = field(default=None, metadata=_check(limits.STEPS))
    storage_interval: int = field(default=1, metadata=_check(limits.STORAGE_INTERVAL))
    generate_report: bool = field(default=True, metadata=_check(v.boolean()))
    image_map: bool = field(default=False, metadata=_check(limits.FLAG))
    block_list: str | None = field(default=None, metadata=_check(limits.BLOCK_LIST))
    joint_attention: str = field(default="text", metadata=_check(limits.JOINT_ATTENTION))
    text_share_map: bool = field(default=False, metadata=_check(limits.FLAG))
    glyph_map: bool = field(default=False, metadata=_check(limits.FLAG))
    render_workers: int | str = field(default="auto", metadata=_check(limits.RENDER_WORKERS))
    visualization_params: VisualizationParams = field(
        default_factory=VisualizationParams, metadata=_section(VisualizationParams)
    )

    def __post_init__(self) -> None:
        limits.check_block_names(self.KEY, self.blocks, self.block_list)
        super().__post_init__()

    @property
    def packed(self) -> bool:
        """Whether maps go straight into the packed store (``storage_format: zarr``)."""
        return self.storage_format == PACKED_FORMAT


@dataclass(frozen=True)
class Config(_Section):
    """A whole batch configuration (the YAML file).

    Attributes:
        prompts: The marked prompts, e.g. ``("a (cat) on a (sofa)",)``, read from ``prompts_file``
            when that is set.
        prompts_file: Where the prompts were read from (an absolute path when loaded from YAML), or
            None when they were given inline.
        output_dir: Folder that receives one sub-folder per batch.
        batch_name: Name of the batch folder (letters, digits, ``._-``, no leading dot), or None to
            derive it from the config name and the time.
        generation: The ``generation:`` section.
        attention_analysis: The ``attention_analysis:`` section.
        prompt_inputs: One :class:`~attention_visual.config.inputs.PromptInputs` per prompt when a
            prompt entry is a mapping with inputs (``image``, ``video``, ...), else empty. Not a YAML
            key of its own: the loader fills it from the prompt mappings.
        models: The models of a comparison batch (``models:``, see :mod:`attention_visual.config.models`):
            every prompt runs through each, with ``generation`` and the entry's own keys; empty: the one
            model of ``generation.model_id``.

    Example:
        >>> cfg = Config(prompts=("a (cat) on a sofa",))
        >>> cfg.generation.num_frames, cfg.attention_analysis.visualization_params.colormap
        (81, 'hot')
    """

    prompts: tuple[str, ...] = field(metadata=_check(v.prompt_list()))
    prompts_file: Path | None = field(default=None, metadata=_check(v.optional(v.path())))
    output_dir: Path = field(default=Path("outputs"), metadata=_check(v.path()))
    batch_name: str | None = field(default=None, metadata=_check(v.optional(_FOLDER_NAME)))
    generation: GenerationConfig = field(default_factory=GenerationConfig, metadata=_section(GenerationConfig))
    attention_analysis: AttentionAnalysisConfig = field(
        default_factory=AttentionAnalysisConfig, metadata=_section(AttentionAnalysisConfig)
    )
    prompt_inputs: tuple[PromptInputs, ...] = ()
    models: tuple[ModelEntry, ...] = field(default=(), metadata=_check(v.tuple_of(ModelEntry)))

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.models and self.generation.model_id != COMPARISON_MODEL_ID:  # the models are in models: only
            shared = dataclasses.replace(self.generation, model_id=COMPARISON_MODEL_ID)
            object.__setattr__(self, "generation", shared)
        for i, entry in enumerate(self.models):  # each model's own config is whole and valid
            try:
                self.for_model(entry.name)
            except ConfigError as exc:
                raise with_model_key(exc, f"models[{i}]", entry) from None
        if self.prompt_inputs and len(self.prompt_inputs) != len(self.prompts):
            raise ConfigError(f"prompt_inputs has {len(self.prompt_inputs)} entries for {len(self.prompts)} prompts")
        analysis, generation = self.attention_analysis, self.generation
        steps, num_steps = analysis.steps, generation.num_inference_steps
        # Every selected step runs, so the first one is always kept: no valid selection captures nothing.
        if steps is not None and steps[-1] >= num_steps:
            raise ConfigError(
                f"attention_analysis.steps must be < generation.num_inference_steps ({num_steps}), got {list(steps)}"
            )
        videos = len(self.prompts) * generation.videos_per_prompt
        if generation.seed + videos > limits.SEED_LIMIT:
            raise ConfigError(
                f"generation.seed must be in [0, {limits.SEED_LIMIT - videos}] so that every video's seed "
                f"(seed + index, {videos} videos) is < 2**63, got {generation.seed}"
            )
        family = generation.family
        if family is not None:
            check_analysis(analysis, family)
        if analysis.guidance_pass != "cond" and not generation.uses_guidance:
            raise ConfigError(
                f"attention_analysis.guidance_pass {analysis.guidance_pass!r} needs classifier-free "
                f"guidance (generation.guidance_scale > 1), got guidance_scale {generation.guidance_scale}"
            )

    def to_dict(self) -> dict[str, Any]:
        """Return the config as plain data that :func:`~attention_visual.config.config_from_dict` accepts.

        Prompts read from a file are written as ``prompts_file`` (not inline), so
        ``config_from_dict(cfg.to_dict()) == cfg`` holds as long as the file is unchanged.
        """
        data = super().to_dict()
        del data["prompt_inputs"]
        data.pop("models")
        if self.models:  # the models are in models: (after the prompts), not in generation.model_id
            data = {"prompts": data.pop("prompts"), "models": [entry.to_data() for entry in self.models], **data}
            del data["generation"]["model_id"]
        if self.prompt_inputs:  # prompts with inputs are written as mappings
            data["prompts"] = [
                {"prompt": text, **inputs.to_dict()} if inputs.given else text
                for text, inputs in zip(self.prompts, self.prompt_inputs, strict=True)
            ]
        if self.prompts_file is None:
            del data["prompts_file"]
        else:
            del data["prompts"]
        return data

    @property
    def model_names(self) -> tuple[str | None, ...]:
        """The names of the models the batch runs, in order: ``(None,)`` for one ``generation.model_id``."""
        return tuple(e.name for e in self.models) if self.models else (None,)

    def for_model(self, name: str | None) -> Config:
        """The config of one model of the batch: ``generation`` with that entry's keys, no ``models``.

        ``None`` (a batch of one model) is the config itself.

        Raises:
            KeyError: No entry of ``models`` has that name.
            ConfigError: The entry's settings are not valid for its model (the loader has checked them).
        """
        if name is None:
            return self
        entry = next((e for e in self.models if e.name == name), None)
        if entry is None:
            raise KeyError(f"no model named {name!r} in models: {', '.join(e.name for e in self.models)}")
        generation = dataclasses.replace(self.generation, **replace_settings(entry))
        return dataclasses.replace(self, generation=generation, models=())

    def inputs_of(self, prompt_number: int) -> PromptInputs:
        """The inputs of prompt ``prompt_number`` (0-based); empty when it has none."""
        return self.prompt_inputs[prompt_number] if self.prompt_inputs else PromptInputs()
