"""Before any model loads: the variant a batch runs, and its sizes, options and inputs checked against it."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image

from attention_visual.config import config_from_dict
from attention_visual.config.inputs import PromptInputs
from attention_visual.errors import ConfigError
from attention_visual.models import resolve_variant
from attention_visual.pipeline.validation import check_requirements, check_variant


@pytest.mark.parametrize(
    ("model_id", "pipeline", "variant"),
    [
        ("tiny", "auto", "wan2.1-t2v"),
        ("tiny", "v2v", "wan2.1-v2v"),
        ("tiny-wan22-a14b", "auto", "wan2.2-t2v-a14b"),
        ("tiny-ti2v-5b", "auto", "wan2.2-ti2v-5b-t2v"),
        ("tiny-ti2v-5b", "i2v", "wan2.2-ti2v-5b-i2v"),
        ("tiny-i2v", "auto", "wan2.1-i2v-14b"),
        ("tiny-flf2v", "auto", "wan2.1-flf2v-14b"),
        ("tiny-vace", "auto", "wan2.1-vace"),
        ("tiny-v2v", "auto", "wan2.1-v2v"),
    ],
)
def test_resolve_variant_of_tiny_ids(model_id: str, pipeline: str, variant: str) -> None:
    assert resolve_variant(model_id, pipeline).name == variant


def test_resolve_variant_reads_a_saved_checkpoint(tmp_path: Path) -> None:
    from attention_visual.models import build_tiny_model

    build_tiny_model("tiny-flf2v").save_pretrained(tmp_path)
    assert resolve_variant(str(tmp_path), local_files_only=True).name == "wan2.1-flf2v-14b"
    assert resolve_variant(str(tmp_path), "i2v", local_files_only=True).name == "wan2.1-i2v-14b"


def _config(tmp_path: Path, prompts: list[object] | None = None, **sections: dict[str, object]) -> object:
    generation = {"model_id": "tiny", "height": 32, "width": 48, "num_frames": 9, "max_sequence_length": 32}
    generation.update(sections.pop("generation", {}))
    data = {"prompts": prompts or ["a (cat)"], "generation": generation, **sections}
    return config_from_dict(data, base_dir=tmp_path)


@pytest.mark.parametrize(
    ("generation", "analysis", "message"),
    [
        (
            {"model_id": "tiny-ti2v-5b"},
            {},
            r"generation\.width must be a multiple of 32 for wan2\.2-ti2v-5b-t2v .*got 48",
        ),
        ({"model_id": "tiny", "pipeline": "i2v"}, {}, r"cannot run pipeline 'i2v'"),
        ({"model_id": "tiny-i2v"}, {}, r"generation\.max_sequence_length must be 512 for wan2\.1-i2v-14b"),
        ({}, {"image_map": True}, r"attention_analysis\.image_map needs a model with an image branch"),
        ({}, {"block_list": "vace_blocks"}, r"block_list 'vace_blocks' does not exist on wan2\.1-t2v"),
    ],
)
def test_bad_combinations_are_one_line(
    tmp_path: Path, generation: dict[str, object], analysis: dict[str, object], message: str
) -> None:
    config = _config(tmp_path, generation=generation, attention_analysis=analysis)
    with pytest.raises(ConfigError, match=message) as info:
        check_variant(config)  # type: ignore[arg-type]
    assert "\n" not in str(info.value)


def test_image_to_video_needs_its_image(tmp_path: Path) -> None:
    Image.new("RGB", (96, 64)).save(tmp_path / "in.png")
    generation = {"model_id": "tiny-ti2v-5b", "pipeline": "i2v", "height": 64, "width": 96}
    ok = _config(tmp_path, [{"prompt": "a (cat)", "image": "in.png"}], generation=generation)
    assert check_variant(ok).name == "wan2.2-ti2v-5b-i2v"  # type: ignore[arg-type]
    missing = _config(tmp_path, ["a (cat)"], generation=generation)
    with pytest.raises(ConfigError, match=r"prompts\[0\]\.image is required by model 'tiny-ti2v-5b'"):
        check_variant(missing)  # type: ignore[arg-type]


def test_a_package_the_call_needs_is_checked_where_the_call_needs_it(tmp_path: Path) -> None:
    """``requires`` (every call) and ``requires_for`` (only a prompt with that input): one line naming the package."""
    missing = "attention_visual_no_such_package"
    i2v = replace(resolve_variant("tiny-ltx2-i2v", "auto"), requires=(missing,))
    with pytest.raises(ConfigError, match=f"ltx2-i2v .* needs the Python package {missing}, which is not installed"):
        check_requirements(i2v, [])
    condition = replace(resolve_variant("tiny-ltx2", "condition"), requires=(missing,))
    check_requirements(condition, [PromptInputs(), PromptInputs(video=tmp_path / "clip.mp4")])  # no image: not needed
    with pytest.raises(ConfigError, match=f"needs the Python package {missing} for a prompt's image, .*: pip install"):
        check_requirements(condition, [PromptInputs(), PromptInputs(image=tmp_path / "a.png")])
    check_requirements(
        resolve_variant("tiny-ltx2", "condition"), [PromptInputs(image=tmp_path / "a.png")]
    )  # av is a dev dependency
