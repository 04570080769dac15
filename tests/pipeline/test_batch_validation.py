"""Bad input is refused before any model loads, with one line and exit status 2."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from attention_visual.cli.main import main
from attention_visual.errors import ConfigError, PromptError
from attention_visual.pipeline import BatchOptions, run_batch
from attention_visual.pipeline import batch as batch_module
from attention_visual.pipeline.validation import load_tokenizer
from pipeline.pipeline_support import tiny_config, tiny_data, write_config


@pytest.fixture
def no_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if anything tries to load a model."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a model was loaded")

    monkeypatch.setattr(batch_module, "load_pipeline", refuse)


def test_a_cut_off_marked_word_fails_the_batch_naming_the_prompt(tmp_path: Path, no_model: None) -> None:
    long_prompt = "a dog runs on the beach and a cat sleeps on a red chair near the (window)"
    config = tiny_config(tmp_path / "out", prompts=["a (dog)", long_prompt], generation={"max_sequence_length": 8})
    with pytest.raises(PromptError, match=r"^prompt 2 \('a dog runs.*'\): word 'window' is cut off"):
        run_batch(config, Path("t.yaml"), BatchOptions(progress=False))
    assert not (tmp_path / "out").exists()  # nothing was created either


def test_the_cli_prints_one_line_and_exits_2(
    tmp_path: Path, no_model: None, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tiny_data(tmp_path / "out", prompts=["a (dog)", "a (cat)", "a cat " * 10 + "and a (sofa)"])
    data["generation"]["max_sequence_length"] = 12
    path = write_config(tmp_path / "bad.yaml", data)
    assert main(["generate", str(path), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("attention-visual: error: prompt 3 (")
    assert main(["generate", str(path), "--set", "generation.height=30"]) == 2
    assert "generation.height must be a multiple of 16" in capsys.readouterr().err


def test_options_that_cannot_run_here_are_refused_before_loading(tmp_path: Path, no_model: None) -> None:
    config = tiny_config(tmp_path, attention_analysis={"spatial_downsample_factor": 2})  # grid 2 x 3
    with pytest.raises(ConfigError, match="spatial_downsample_factor 2 must divide the token grid 2x3"):
        run_batch(config, Path("t.yaml"), BatchOptions(progress=False))
    if not __import__("torch").cuda.is_available():
        offload = tiny_config(tmp_path, generation={"device": "auto", "enable_model_cpu_offload": True})
        with pytest.raises(ConfigError, match="enable_model_cpu_offload needs a CUDA device"):
            run_batch(offload, Path("t.yaml"), BatchOptions(progress=False))


def test_an_explicit_batch_name_holding_another_config_is_refused(
    tmp_path: Path, fresh_tiny_pipe: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tiny_data(tmp_path / "out", prompts=["a (dog)"], batch_name="mine")
    data["generation"]["videos_per_prompt"] = 1
    run_batch(tiny_config(tmp_path / "out", **{k: data[k] for k in ("prompts", "batch_name", "generation")}),
              Path("t.yaml"), BatchOptions(progress=False), pipe=fresh_tiny_pipe)  # fmt: skip
    path = write_config(tmp_path / "other.yaml", data)
    assert main(["generate", str(path), "--set", "generation.seed=1", "--no-progress"]) == 2
    assert "pass --overwrite" in capsys.readouterr().err


def test_the_tokenizer_of_an_unavailable_model_is_a_clean_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ConfigError, match=r"cannot load the tokenizer of 'nobody/no-such-model' \(offline"):
        load_tokenizer("nobody/no-such-model")
    assert load_tokenizer("tiny").is_fast
