"""Shared fixtures: the tiny offline tokenizer and Wan pipeline.

The session-scoped fixtures are built once per test session and shared by every test, so tests must
NOT mutate them: no ``.to(...)``, no scheduler swap, no ``set_attn_processor``, no weight edits, no
hooks left installed after the test (hooks removed in a ``finally`` are fine). A test that needs to
change the pipeline takes ``fresh_tiny_pipe`` (a new one per test, ~0.1 s to build) instead.

``TINY`` holds the recommended non-square generation settings: 32 x 48 pixels and 9 frames give a
latent of ``[16, 3, 4, 6]`` and a transformer token grid of 3 frames x 2 rows x 3 columns. Test modules
should prefer ``attention_visual.models.TINY_DEFAULTS`` (the same object) over importing this conftest.

The light test run (``make test-light``: a venv with ``pip install .``, no torch) loads this file too,
so torch, diffusers and transformers are imported only where a fixture or hook needs them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from attention_visual.extras import has_extra
from support.shared import changes, shared_folder, snapshot_of
from support.tiny_demo import TinyDemo, generate_tiny_demo, load_tiny_demo

if TYPE_CHECKING:
    from diffusers.pipelines.wan.pipeline_wan import WanPipeline
    from transformers import T5Tokenizer

if has_extra("wan"):
    from attention_visual.models.tiny import TINY_DEFAULTS, TinyDefaults

    TINY: TinyDefaults = TINY_DEFAULTS
    """Tiny generation settings: ``TINY.call_kwargs()``, ``TINY.latent_grid == (3, 2, 3)``."""

    TINY_LATENT_SHAPE: tuple[int, int, int, int, int] = (1, *TINY_DEFAULTS.latent_shape)
    """``output_type="latent"`` shape for ``TINY``: ``[batch, channels, latent_frames, height/8, width/8]``."""


def pytest_configure(config: pytest.Config) -> None:
    """Run torch single-threaded: the tiny models are so small that thread hand-offs dominate.

    Measured on a 2-core machine with other jobs running: a 2-step tiny call took ~0.12 s with one
    thread and ~0.6 s with two.
    """
    if has_extra("wan"):
        import torch

        torch.set_num_threads(1)


OPT_IN_MARKERS = ("soak", "timing")
"""Markers whose tests run only when ``-m`` names them: ``make soak`` runs them, ``make test`` does not."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Choose and order the tests for one run, the same way in every pytest-xdist worker.

    * The ``soak`` and ``timing`` tests are left out unless the ``-m`` expression names their marker.
    * Modules with ``slow`` tests come first (each module's tests stay together): with
      ``--dist loadfile --no-loadscope-reorder`` (``make test``) a worker takes one module at a time
      in this order, so the longest work starts early and the workers end together.
    """
    markexpr = config.getoption("markexpr") or ""
    opted_out = [name for name in OPT_IN_MARKERS if name not in markexpr]
    kept, left_out = [], []
    for item in items:
        (left_out if any(item.get_closest_marker(name) for name in opted_out) else kept).append(item)
    if left_out:
        config.hook.pytest_deselected(items=left_out)
    slow = {item.path for item in kept if item.get_closest_marker("slow")}
    items[:] = sorted(kept, key=lambda item: item.path not in slow)


TINY_PROMPT = "A romantic kiss between a man and woman with flowers"
"""A demo prompt whose words map to 1 or 2 tiny tokens ("kiss" → ▁ki + ss, "flowers" → ▁flow + ers)."""


@pytest.fixture(scope="session")
def tiny_tokenizer() -> T5Tokenizer:
    """The hand-made Unigram T5 tokenizer of the tiny pipeline (shared: do not mutate)."""
    from attention_visual.models.tiny import build_tiny_tokenizer

    return build_tiny_tokenizer()


@pytest.fixture(scope="session")
def tiny_pipe() -> WanPipeline:
    """The tiny Wan pipeline for seed 0, built once per session (shared: do not mutate)."""
    from attention_visual.models.tiny import build_tiny_pipeline

    return build_tiny_pipeline(seed=0)


@pytest.fixture
def fresh_tiny_pipe() -> WanPipeline:
    """A new tiny Wan pipeline for seed 0, for tests that modify it."""
    from attention_visual.models.tiny import build_tiny_pipeline

    return build_tiny_pipeline(seed=0)


@pytest.fixture(scope="session")
def tiny_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TinyDemo]:
    """``configs/tiny_demo.yaml`` generated once per test run (in a test process), shared by every worker.

    Read-only: a test that changes the batch copies it first. The session's end checks that no test
    changed it.
    """
    demo = load_tiny_demo(shared_folder(tmp_path_factory, "tiny-demo", generate_tiny_demo))
    before = snapshot_of(demo.batch)
    yield demo
    changed = changes(demo.batch, before)
    assert not changed, f"a test changed the shared tiny demo batch: {changed[:10]}"
