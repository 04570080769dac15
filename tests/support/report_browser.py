"""Driving a report in Debian's headless Chromium (Selenium): the browser, and a visit of every prompt.

Import as ``from support.report_browser import chromium, visit_prompts`` (tests/ is on pytest's pythonpath).
Needs ``/usr/bin/chromium`` and ``/usr/bin/chromedriver`` (``apt-get install chromium chromium-driver``).
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
LAPTOP = (1366, 900)
BLOCKED = "too many WebMediaPlayers"
"""Chromium's console message when a page has reached its media player limit."""


def have_chromium() -> bool:
    return Path(CHROMIUM).is_file() and Path(CHROMEDRIVER).is_file()


@contextlib.contextmanager
def chromium(*flags: str) -> Iterator[WebDriver]:
    """Headless Chromium with its console log captured (no network, no background services), and ``flags``."""
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--autoplay-policy=no-user-gesture-required",
        f"--window-size={LAPTOP[0]},{LAPTOP[1]}",
        f"--user-data-dir={profile}",
        *flags,
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def console_errors(driver: WebDriver) -> list[str]:
    entries: list[dict[str, Any]] = driver.get_log("browser")  # type: ignore[no-untyped-call]
    return [f"{e['level']}: {e['message']}" for e in entries if e["level"] == "SEVERE" or BLOCKED in e["message"]]


# The videos on screen: wait until every slot on screen has its player (an observer makes it, a frame or
# two after the slot arrives) and each player has data (or failed), then play it; report what happened.
_PLAY_VISIBLE = """
const done = arguments[arguments.length - 1];
const onScreen = v => {
  const r = v.getBoundingClientRect();
  return r.bottom > 0 && r.top < innerHeight && r.width > 0;
};
const attached = () => Array.from(document.querySelectorAll('.vslot')).filter(onScreen)
  .every(s => s.querySelector('video'));
const waitPlayers = since => new Promise(resolve => {
  const check = () => (attached() || performance.now() - since > 10000) ? resolve() : setTimeout(check, 25);
  check();
});
const settle = v => new Promise(resolve => {
  const check = () => (v.error || v.readyState >= 2) ? resolve() : setTimeout(check, 25);
  check();
});
waitPlayers(performance.now()).then(() => {
  const videos = Array.from(document.querySelectorAll('video')).filter(onScreen);
  const missing = Array.from(document.querySelectorAll('.vslot')).filter(onScreen)
    .filter(s => !s.querySelector('video')).map(s => 'no player for ' + s.dataset.src);
  return Promise.all(videos.map(settle)).then(() => Promise.all(videos.map(v =>
    v.error ? Promise.resolve('error ' + v.error.code + ' ' + v.currentSrc)
            : v.play().then(() => null, e => String(e) + ' ' + v.currentSrc))))
    .then(failures => done({shown: videos.length, failures: missing.concat(failures.filter(Boolean)),
                            sources: videos.map(v => v.currentSrc),
                            durations: videos.map(v => v.duration),
                            players: document.querySelectorAll('video').length}));
});
"""


@dataclass
class Visit:
    """What a visit saw: videos played on screen, failures, the most players alive at once, memory."""

    played: int = 0  # videos played, counted at every stop they were on screen
    sources: set[str] = field(default_factory=set)  # the distinct videos played
    failures: list[str] = field(default_factory=list)
    most_players: int = 0
    steps: int = 0
    renderer: list[tuple[int, int]] = field(default_factory=list)  # (resident, private) after each prompt
    after_gc: list[tuple[int, int]] = field(default_factory=list)  # the same after a full garbage collection


def play_visible(driver: WebDriver, visit: Visit, timeout: float = 60) -> None:
    """Play every video on screen (see ``_PLAY_VISIBLE``) and add the outcome to ``visit``."""
    driver.set_script_timeout(timeout)
    found: dict[str, Any] = driver.execute_async_script(_PLAY_VISIBLE)
    visit.played += int(found["shown"])
    visit.sources.update(found["sources"])
    visit.failures += found["failures"]
    visit.failures += [f"duration {d}" for d in found["durations"] if not (isinstance(d, (int, float)) and d > 0)]
    visit.most_players = max(visit.most_players, int(found["players"]))
    visit.steps += 1


def _parent(pid: str) -> str | None:
    try:
        stat = (Path("/proc") / pid / "stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[1]  # the field after the state: the parent's pid


def renderer_memory(driver: WebDriver) -> tuple[int, int]:
    """``(resident, private)`` bytes of the largest renderer process of ``driver``'s Chromium (the report's tab).

    Private memory (``Private_Clean + Private_Dirty`` of ``/proc/PID/smaps_rollup``) is what the page
    itself holds, as Chromium's task manager counts a tab's footprint; resident memory adds the pages it
    shares with the other Chromium processes (fonts, code). Only processes descending from this driver's
    chromedriver count (other browsers may run on the machine).
    """
    root = str(driver.service.process.pid)
    largest = (0, 0)
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if b"--type=renderer" not in (proc / "cmdline").read_bytes():
                continue
            fields = dict(line.split(":", 1) for line in (proc / "smaps_rollup").read_text().splitlines()[1:])
        except (OSError, ValueError):
            continue
        pid: str | None = proc.name
        while pid not in (None, "0", "1", root):
            pid = _parent(pid)  # type: ignore[arg-type]
        if pid != root:
            continue
        kib = {name: int(value.split()[0]) for name, value in fields.items()}
        largest = max(largest, (kib["Rss"] * 1024, (kib["Private_Clean"] + kib["Private_Dirty"]) * 1024))
    return largest


def _wait_cards(driver: WebDriver) -> None:
    """Until the cards near the screen are loaded."""
    script = (
        "return Array.from(document.querySelectorAll('article.video')).filter(a => {"
        "const r = a.getBoundingClientRect(); return r.bottom > 0 && r.top < innerHeight;})"
        ".every(a => a.dataset.state === 'ready' || a.dataset.state === 'error')"
    )
    try:
        WebDriverWait(driver, 30).until(lambda d: d.execute_script(script))
    except TimeoutException as exc:
        raise AssertionError("cards on screen did not load") from exc


def scroll_through(driver: WebDriver, element_id: str, visit: Visit) -> None:
    """Scroll down through an element a screen at a time, playing what is on screen at each stop."""
    top, height = driver.execute_script(
        "const e = document.getElementById(arguments[0]); const r = e.getBoundingClientRect();"
        "return [r.top + scrollY, r.height];",
        element_id,
    )
    y = top
    while True:
        driver.execute_script("window.scrollTo(0, arguments[0])", y)
        _wait_cards(driver)
        play_visible(driver, visit)
        height = driver.execute_script("return document.getElementById(arguments[0]).offsetHeight", element_id)
        y += LAPTOP[1] - 100
        if y >= top + height:
            break


def expand_all_and_jump(driver: WebDriver, visit: Visit, stops: int) -> None:
    """Press ``e`` (expand every prompt), then jump down the page in ``stops`` steps, playing what is on screen."""
    driver.find_element(By.TAG_NAME, "body").send_keys("e")
    height = driver.execute_script("return document.body.scrollHeight")
    for y in range(0, height, max(1, height // stops)):
        driver.execute_script("window.scrollTo(0, arguments[0])", y)
        _wait_cards(driver)
        play_visible(driver, visit)


def collect_garbage(driver: WebDriver) -> tuple[int, int]:
    """The renderer's memory (:func:`renderer_memory`) after a full garbage collection of the page."""
    driver.execute_cdp_cmd("HeapProfiler.collectGarbage", {})  # type: ignore[no-untyped-call]
    return renderer_memory(driver)


def visit_prompts(
    driver: WebDriver, prompt_ids: list[str], visit: Visit, keep_open: bool = False, gc_every: int = 25
) -> None:
    """Open each prompt in turn, play every video of it screen by screen, then close it (unless ``keep_open``).

    The renderer's memory is taken after each prompt, and after a garbage collection every ``gc_every``.
    """
    for n, prompt_id in enumerate(prompt_ids, start=1):
        driver.execute_script("document.getElementById(arguments[0]).open = true", prompt_id)
        scroll_through(driver, prompt_id, visit)
        visit.renderer.append(renderer_memory(driver))
        if not keep_open:
            driver.execute_script("document.getElementById(arguments[0]).open = false", prompt_id)
        if n % gc_every == 0:
            visit.after_gc.append(collect_garbage(driver))


__all__ = [
    "BLOCKED",
    "LAPTOP",
    "Visit",
    "chromium",
    "collect_garbage",
    "console_errors",
    "expand_all_and_jump",
    "have_chromium",
    "play_visible",
    "renderer_memory",
    "scroll_through",
    "visit_prompts",
]
