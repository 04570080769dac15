"""The report page's inline stylesheet and script (no external resources, so it opens from ``file://``).

The script reads the ``<script type="application/json" id="report-data">`` block and wires:

* every ``.panel``: its ``input.step`` / ``input.frame`` sliders move the CSS ``background-position``
  of each ``.map`` sprite inside it (no image decoding per move) and update the ``output`` labels;
* lazy sections: a closed prompt's body is an inert ``<template class="lazy">`` (no video elements are
  created, nothing loads) until its ``<details>`` is opened; then its ``<video preload="none">``
  switch to ``preload="metadata"``. The first prompt is open on load. 245 native video elements
  cost Chromium ~400 ms to create even when idle, so this is what keeps a 50-video page fast;
* keys: ``j``/``k`` next/previous video (opening prompts as needed), ``e``/``c`` expand/collapse every
  prompt; arrow keys move a focused slider natively; a ``#prompt_002_vid_001`` link opens its prompt.
"""

from __future__ import annotations

CSS = """
:root { --fg: #1d2330; --muted: #5b6474; --line: #dfe3ea; --bg: #f6f7f9; --card: #fff; --accent: #2458c6; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: var(--fg); background: var(--bg); }
a { color: var(--accent); }
code { font: 13px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.top { background: var(--card); border-bottom: 1px solid var(--line); padding: 14px 24px 10px; }
.top h1 { margin: 0 0 4px; font-size: 20px; }
.top p { margin: 2px 0; color: var(--muted); }
.keys kbd { font: 12px ui-monospace, monospace; border: 1px solid var(--line); border-bottom-width: 2px;
  border-radius: 4px; padding: 0 4px; background: var(--bg); color: var(--fg); }
main { max-width: 1320px; margin: 0 auto; padding: 16px 24px 48px; }
.toc { display: flex; flex-wrap: wrap; gap: 6px 14px; margin: 0 0 14px; padding: 0; list-style: none; }
.toc a { text-decoration: none; }
details.prompt { background: var(--card); border: 1px solid var(--line); border-radius: 10px;
  margin: 0 0 14px; }
details.prompt > summary { cursor: pointer; padding: 12px 16px; font-size: 16px; list-style-position: inside; }
details.prompt > summary:focus-visible, article.video:focus-visible { outline: 3px solid var(--accent);
  outline-offset: 2px; }
.pnum { color: var(--muted); font-weight: 600; margin-right: 6px; }
.prompt-body { padding: 0 16px 12px; }
.marked { color: var(--muted); margin: 0 0 10px; }
mark { border-radius: 3px; padding: 0 3px; color: inherit; font-weight: 600; }
.w0 { background: #ffe08a; } .w1 { background: #b9e3ff; } .w2 { background: #c8f2c2; }
.w3 { background: #ffc9de; } .w4 { background: #e0d0ff; } .w5 { background: #ffd8b0; }
article.video { border-top: 1px solid var(--line); padding: 12px 0 6px; }
article.video > header { display: flex; flex-wrap: wrap; align-items: baseline; gap: 4px 10px; }
article.video h3 { margin: 0; font-size: 16px; }
.meta { color: var(--muted); font-size: 13px; }
.badge { display: inline-block; border-radius: 999px; padding: 0 8px; font-size: 12px; font-weight: 600;
  line-height: 20px; color: #fff; background: #7a8394; }
.badge.done { background: #2e8540; } .badge.failed { background: #c62828; }
.badge.interrupted { background: #b26a00; } .badge.pending { background: #7a8394; }
.error { color: #b3261e; background: #fdecea; border-radius: 6px; padding: 4px 8px; margin: 6px 0;
  font-size: 13px; overflow-wrap: anywhere; white-space: pre-wrap; max-width: 100%; box-sizing: border-box; }
.row { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; margin-top: 8px; }
figure { margin: 0; }
figcaption { font-size: 12px; color: var(--muted); margin-top: 2px; }
video { display: block; background: #111; border-radius: 6px; }
video { object-fit: contain; }
video.gen { width: 320px; min-height: 180px; max-width: 100%; }
video.small { width: 256px; min-height: 144px; max-width: 100%; }
.inputs { display: flex; flex-wrap: wrap; gap: 12px; margin: 6px 0 10px; }
img.small { width: 256px; max-width: 100%; border-radius: 6px; image-rendering: auto; }
.missing { display: flex; align-items: center; justify-content: center; text-align: center; width: 256px;
  min-height: 120px; border: 1px dashed var(--line); border-radius: 6px; color: var(--muted); font-size: 13px;
  padding: 8px; background: var(--bg); }
.panel { border: 1px solid var(--line); border-radius: 8px; padding: 8px 10px; background: #fbfcfd; }
.panel h4, .word h4 { margin: 0 0 6px; font-size: 13px; color: var(--muted); font-weight: 600; }
.tiles { display: flex; flex-wrap: wrap; gap: 10px; }
.map { background-repeat: no-repeat; image-rendering: pixelated; border-radius: 4px; background-color: #000; }
.tiles .map { width: 176px; }
.word .map { width: 256px; }
.sliders { display: grid; grid-template-columns: auto 1fr; gap: 2px 8px; align-items: center;
  margin-top: 6px; font-size: 12px; }
.sliders input[type=range] { width: 100%; min-width: 140px; margin: 0; }
.sliders output { grid-column: 2; color: var(--muted); font-variant-numeric: tabular-nums; min-height: 1.2em; }
.words { display: flex; flex-direction: column; gap: 10px; margin-top: 12px; }
.word { display: flex; flex-wrap: wrap; gap: 14px; align-items: flex-start; }
.word > .panel { width: 280px; }
.cbar { height: 8px; border-radius: 3px; margin-top: 6px; }
.cbar-labels { display: flex; justify-content: space-between; font-size: 11px; color: var(--muted); }
.plot img { display: block; width: 420px; max-width: 100%; border: 1px solid var(--line); border-radius: 6px;
  background: #fff; }
footer { color: var(--muted); font-size: 12px; text-align: center; padding: 12px; }
"""

JS = """
(function () {
  "use strict";
  var maps = JSON.parse(document.getElementById("report-data").textContent).maps;

  function pct(i, n) { return n > 1 ? (100 * i / (n - 1)) + "%" : "0%"; }

  function showPanel(panel) {
    var step = panel.querySelector("input.step"), frame = panel.querySelector("input.frame");
    var s = step ? +step.value : 0, f = frame ? +frame.value : 0, first = null;
    panel.querySelectorAll(".map").forEach(function (el) {
      var m = maps[el.dataset.map];
      if (!m) { return; }
      var row = Math.min(s, m.rows - 1), col = Math.min(f, m.cols - 1);
      el.style.backgroundPosition = pct(col, m.cols) + " " + pct(row, m.rows);
      el.title = m.step_labels[row] + " · " + m.frame_labels[col];
      if (!first) { first = { m: m, row: row, col: col }; }
    });
    if (!first) { return; }
    var outs = panel.querySelectorAll("output");
    if (outs[0]) { outs[0].textContent = first.m.step_labels[first.row]; }
    if (outs[1]) { outs[1].textContent = first.m.frame_labels[first.col]; }
  }

  // A closed prompt's body is an inert <template> (no video elements, no loads) until it is opened.
  function activate(d) {
    var t = d.querySelector(":scope > template.lazy");
    if (t) { t.replaceWith(t.content.cloneNode(true)); }
    d.querySelectorAll(".panel:not([data-ready])").forEach(function (panel) {
      panel.dataset.ready = "1";
      panel.addEventListener("input", function () { showPanel(panel); });
      showPanel(panel);
    });
    d.querySelectorAll("video[preload=none]").forEach(function (v) { v.preload = "metadata"; v.load(); });
  }
  var sections = Array.prototype.slice.call(document.querySelectorAll("details.prompt"));
  sections.forEach(function (d) {
    if (d.open) { activate(d); }
    d.addEventListener("toggle", function () { if (d.open) { activate(d); } });
  });

  var last = null;  // the video last visited, so a click elsewhere does not lose the place
  document.addEventListener("focusin", function (ev) {
    var card = ev.target.closest && ev.target.closest("article.video");
    if (card) { last = card; }
  });
  function show(card) {
    last = card;
    card.focus({ preventScroll: true });
    card.scrollIntoView({ block: "start" });
  }
  function openSection(i) { sections[i].open = true; activate(sections[i]); return sections[i]; }
  function go(delta) {
    var active = document.activeElement;
    var card = (active && active.closest && active.closest("article.video")) || last;
    var i = card ? sections.indexOf(card.closest("details.prompt")) : -1;
    var next = card && card.closest("details").open ?
      (delta > 0 ? card.nextElementSibling : card.previousElementSibling) : null;
    if (next && next.matches("article.video")) { return show(next); }
    for (i += delta; i >= 0 && i < sections.length; i += delta) {
      var cards = openSection(i).querySelectorAll("article.video");
      if (cards.length) { return show(cards[delta > 0 ? 0 : cards.length - 1]); }
    }
  }
  function reveal() {
    var id = decodeURIComponent(location.hash.slice(1));
    if (!id || document.getElementById(id)) { return; }
    sections.forEach(function (d, i) {
      var t = d.querySelector(":scope > template.lazy");
      if (t && t.content.getElementById(id)) {
        openSection(i);
        document.getElementById(id).scrollIntoView({ block: "start" });
      }
    });
  }
  reveal();
  window.addEventListener("hashchange", reveal);

  document.addEventListener("keydown", function (ev) {
    var t = ev.target;
    if (ev.ctrlKey || ev.metaKey || ev.altKey) { return; }
    if (t && (t.tagName === "INPUT" && t.type !== "range" || t.tagName === "TEXTAREA")) { return; }
    if (ev.key === "j") { go(1); }
    else if (ev.key === "k") { go(-1); }
    else if (ev.key === "e") { sections.forEach(function (d, i) { openSection(i); }); }
    else if (ev.key === "c") { sections.forEach(function (d) { d.open = false; }); }
    else { return; }
    ev.preventDefault();
  });
})();
"""

__all__ = ["CSS", "JS"]
