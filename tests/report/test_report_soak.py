"""Soak: a 1,000-video report in Chromium (marked ``slow`` and ``soak``; minutes; ``pytest -m soak``).

Builds a 1,000-video batch (250 prompts × 4 seeds, tiny maps, one small H.264 file copied to every video),
writes its report cold, then in headless Chromium (default 1,000-player limit): opens every prompt in
turn and plays every video on screen, screen by screen (5,000 players made over the visit); opens the
batch view; expands every prompt and jumps down the page, playing what is on screen. Asserts 0 media
errors and no blocked player, the renderer's private memory (its footprint, as Chromium's task manager
counts it) ≤ 1 GB after every prompt and at the end, the batch view painted ≤ 1 s after it was opened.
Its figures go to ``test-artifacts/report-soak.json``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from attention_visual.report import write_report
from support.batch import build_batch
from support.report_browser import (
    BLOCKED,
    Visit,
    chromium,
    console_errors,
    expand_all_and_jump,
    have_chromium,
    renderer_memory,
    visit_prompts,
)

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
PROMPTS, SEEDS = 250, 4
RENDERER_BUDGET = 2**30
BATCH_VIEW_BUDGET_MS = 1000.0

pytestmark = [
    pytest.mark.slow,
    pytest.mark.soak,
    pytest.mark.skipif(not have_chromium(), reason="Debian's chromium and chromium-driver are not installed"),
]


def test_thousand_video_report_plays_every_video(tmp_path: Path) -> None:
    prompts = tuple(f"prompt {i}: a (cat) chases a (ball)" for i in range(PROMPTS))
    build_batch(tmp_path / "b", prompts=prompts, videos_per_prompt=SEEDS)
    started = time.perf_counter()
    index = write_report(tmp_path / "b")
    figures: dict[str, Any] = {"videos": PROMPTS * SEEDS, "cold_report_s": time.perf_counter() - started}
    figures["index_html_bytes"] = index.stat().st_size
    with chromium() as driver:
        driver.get(index.as_uri())
        visit = Visit()
        started = time.perf_counter()
        visit_prompts(driver, [f"prompt-{i}" for i in range(1, PROMPTS + 1)], visit)
        figures["visit_s"] = time.perf_counter() - started
        driver.execute_script("window.scrollTo(0, 0)")
        driver.find_element(By.CSS_SELECTOR, "#batch > summary").click()
        WebDriverWait(driver, 60).until(lambda d: d.find_element(By.ID, "batch").get_attribute("data-painted"))
        figures["batch_view_painted_ms"] = driver.execute_script(
            "return performance.getEntriesByName('batch-view')[0].duration"
        )
        expand_all_and_jump(driver, visit, stops=20)
        visit.renderer.append(renderer_memory(driver))
        errors = console_errors(driver)
    figures |= {
        "played": visit.played,
        "most_players": visit.most_players,
        "renderer_private_peak_mb": max(p for _, p in visit.renderer) / 2**20,
        "renderer_resident_peak_mb": max(r for r, _ in visit.renderer) / 2**20,
        "renderer_private_mb_every_25_prompts": [round(p / 2**20) for _, p in visit.renderer[24::25]],
        "renderer_private_mb_after_gc_every_25_prompts": [round(p / 2**20) for _, p in visit.after_gc],
        "failures": visit.failures[:10],
        "console_errors": errors[:10],
    }
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "report-soak.json").write_text(json.dumps(figures, indent=1) + "\n")
    print(f"1,000-video soak: {figures}")
    assert visit.failures == [] and not [e for e in errors if BLOCKED in e] and errors == []
    assert visit.played >= PROMPTS * SEEDS * 5
    assert max(p for _, p in visit.renderer) <= RENDERER_BUDGET
    assert figures["batch_view_painted_ms"] <= BATCH_VIEW_BUDGET_MS
