"""Prompt entries with inputs: parsing at config load, checks against the task before any model loads."""

from __future__ import annotations

from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
from PIL import Image

from attention_visual.config import config_from_dict, load_config
from attention_visual.config.inputs import PromptInputs, check_inputs
from attention_visual.config.schema import PIPELINES
from attention_visual.errors import ConfigError
from attention_visual.families import FAMILIES


@pytest.fixture
def files(tmp_path: Path) -> Path:
    Image.new("RGB", (48, 32), (200, 20, 20)).save(tmp_path / "first.png")
    Image.new("RGB", (48, 32), (20, 20, 200)).save(tmp_path / "last.png")
    (tmp_path / "broken.png").write_bytes(b"not a png")
    frames = np.zeros((9, 32, 48, 3), np.uint8)  # [frame, height, width, rgb]
    frames[:, :, :, 1] = np.arange(9)[:, None, None] * 20
    iio.imwrite(tmp_path / "clip.mp4", frames, fps=8, codec="libx264")
    return tmp_path


def _config(folder: Path, prompts: list[object], **generation: object) -> Path:
    import yaml

    path = folder / "c.yaml"
    path.write_text(yaml.safe_dump({"prompts": prompts, "generation": {"model_id": "tiny", **generation}}))
    return path


def test_pipeline_choices_are_the_families_tasks() -> None:
    tasks = {v.task for family in FAMILIES for v in family.variants.values()}
    assert PIPELINES[0] == "auto" and set(PIPELINES[1:]) == tasks and len(PIPELINES) == len(tasks) + 1


def test_mapping_entries_resolve_relative_to_the_config(files: Path) -> None:
    path = _config(files, ["a (cat)", {"prompt": "a (dog)", "image": "first.png", "last_image": "last.png"}])
    config = load_config(path)
    assert config.prompts == ("a (cat)", "a (dog)")
    assert config.prompt_inputs == (
        PromptInputs(),
        PromptInputs(image=files / "first.png", last_image=files / "last.png"),
    )
    assert config.inputs_of(1).given == ("image", "last_image")
    assert config_from_dict(config.to_dict()) == config  # written back as a mapping with absolute paths
    assert load_config(_config(files, ["a (cat)"])).prompt_inputs == ()


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"prompt": "a (cat)", "imag": "first.png"}, r"unknown key prompts\[0\]\.imag \(did you mean image\?\)"),
        ({"prompt": "a (cat)", "image": "nope.png"}, r"prompts\[0\]\.image: file not found: .*nope\.png"),
        ({"image": "first.png"}, r"prompts\[0\] is a mapping without a prompt"),
        ({"prompt": "a (cat)", "strength": 0}, r"prompts\[0\]\.strength must be"),
        ({"prompt": "a (cat)", "reference_images": "first.png"}, r"prompts\[0\]\.reference_images must be a list"),
        ({"prompt": "a (cat", "image": "first.png"}, r"prompts\[0\]: unbalanced"),
    ],
)
def test_bad_entries_are_one_line(files: Path, entry: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        load_config(_config(files, [entry]))
    assert "\n" not in str(info.value)


def test_prompt_inputs_is_not_a_yaml_key(files: Path) -> None:
    with pytest.raises(ConfigError, match="unknown key prompt_inputs"):
        config_from_dict({"prompts": ["a (cat)"], "prompt_inputs": []})


def _check(inputs: list[PromptInputs], task: str, frames: int = 9) -> None:
    check_inputs(inputs, task, height=32, width=48, num_frames=frames, source="model 'x'")


def test_check_inputs_against_the_task(files: Path) -> None:
    image, last, clip = files / "first.png", files / "last.png", files / "clip.mp4"
    _check([PromptInputs(image=image)], "i2v")
    _check([PromptInputs(image=image, last_image=last)], "flf2v")
    _check([PromptInputs(video=clip, strength=0.5)], "v2v")
    _check([PromptInputs(video=clip, reference_images=(image,))], "vace")
    _check([], "t2v")
    with pytest.raises(ConfigError, match=r"prompts\[0\]\.image is required by model 'x' \(task i2v\)"):
        _check([], "i2v")
    with pytest.raises(ConfigError, match=r"prompts\[1\]\.last_image is required"):
        _check([PromptInputs(image=image, last_image=last), PromptInputs(image=image)], "flf2v")
    with pytest.raises(ConfigError, match=r"prompts\[0\]\.image is not used by model 'x' \(task t2v\)"):
        _check([PromptInputs(image=image)], "t2v")
    with pytest.raises(ConfigError, match=r"prompts\[0\]\.video has 9 frames, but generation\.num_frames is 17"):
        _check([PromptInputs(video=clip)], "v2v", frames=17)
    _check([PromptInputs(image=image), PromptInputs(video=clip), PromptInputs()], "condition")
    with pytest.raises(ConfigError, match=r"prompts\[1\] gives image and video, but .* takes one"):
        _check([PromptInputs(image=image), PromptInputs(image=image, video=clip)], "condition")


def test_undecodable_files(files: Path) -> None:
    with pytest.raises(ConfigError, match=r"prompts\[0\]\.image: cannot decode image .*broken\.png") as info:
        _check([PromptInputs(image=files / "broken.png")], "i2v")
    assert "\n" not in str(info.value)
    with pytest.raises(ConfigError, match=r"prompts\[0\]\.video: cannot decode video"):
        _check([PromptInputs(video=files / "broken.png")], "v2v")


def test_aspect_ratio_mismatch_warns(files: Path, caplog: pytest.LogCaptureFixture) -> None:
    Image.new("RGB", (32, 32)).save(files / "square.png")
    _check([PromptInputs(image=files / "square.png")], "i2v")
    assert "changes its aspect ratio" in caplog.text
