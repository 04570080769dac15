"""The report page's inline stylesheet and script (no external resources, so it opens from ``file://``).

The script reads the ``<script type="application/json" id="report-data">`` block and wires:

* every ``.panel``: its ``input.step`` / ``input.frame`` sliders move the CSS ``background-position``
  of each ``.map`` sprite inside it (no image decoding per move) and update the ``output`` labels;
* lazy sections: a closed prompt's body is an inert ``<template class="lazy">`` (no video elements are
  created, nothing loads) until its ``<details>`` is opened; then its ``<video preload="none">``
  switch to ``preload="metadata"``. The first prompt is open on load. 245 native video elements
  cost Chromium ~400 ms to create even when idle, so this is what keeps a 50-video page fast;
* the batch view (``<details id="batch">``): its markup is the JSON block's ``batch_html`` string,
  inserted when it is first opened; the statistics table is
  built from the JSON block's ``stats`` (sorted by clicking a column header, filtered by the word
  ``<select>``); a seed grid's tiles are ``.map`` s pinned to their sprite column (``data-col``); a dot
  follows each centroid path (``svg.path``) as its video plays;
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
details.batch { background: var(--card); border: 1px solid var(--line); border-radius: 10px; margin: 0 0 14px; }
details.batch > summary { cursor: pointer; padding: 12px 16px; font-size: 16px; font-weight: 600; }
.batch-body { padding: 0 16px 12px; }
.batch-body h3 { margin: 12px 0 6px; font-size: 16px; }
.table-wrap { max-height: 420px; overflow: auto; border: 1px solid var(--line); border-radius: 6px; }
#stats-table { border-collapse: collapse; font-size: 12px; width: 100%; font-variant-numeric: tabular-nums; }
#stats-table th { position: sticky; top: 0; background: var(--bg); text-align: left; }
#stats-table th button { font: inherit; font-weight: 600; border: 0; background: none; cursor: pointer;
  padding: 4px 6px; color: var(--fg); }
#stats-table th[aria-sort=ascending] button::after { content: " ▲"; }
#stats-table th[aria-sort=descending] button::after { content: " ▼"; }
#stats-table td { padding: 2px 6px; border-top: 1px solid var(--line); }
#stats-table td.num { text-align: right; }
section.word-batch { border-top: 1px solid var(--line); margin-top: 12px; }
.panel.seeds { margin: 8px 0; }
.panel.seeds .tiles .map { width: 132px; }
.score { font-weight: 700; color: var(--fg); }
h4.sub { margin: 10px 0 0; font-size: 13px; color: var(--muted); font-weight: 600; }
.traj-box { position: relative; width: 220px; max-width: 100%; background: #111; border-radius: 6px; overflow: hidden; }
.traj-box video, .traj-box .blank { position: absolute; inset: 0; width: 100%; height: 100%; object-fit: fill; }
.traj-box svg { position: absolute; inset: 0; width: 100%; height: 100%; pointer-events: none; }
.traj-box polyline { fill: none; stroke: #39ff88; stroke-width: 2; }
.traj-box circle { fill: #ff3d7f; stroke: #fff; stroke-width: 1; vector-effect: non-scaling-stroke; }
"""

JS = """
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("report-data").textContent), maps = data.maps;

  function pct(i, n) { return n > 1 ? (100 * i / (n - 1)) + "%" : "0%"; }

  function showPanel(panel) {
    var step = panel.querySelector("input.step"), frame = panel.querySelector("input.frame");
    var s = step ? +step.value : 0, f = frame ? +frame.value : 0, first = null;
    panel.querySelectorAll(".map").forEach(function (el) {
      var m = maps[el.dataset.map];
      if (!m) { return; }
      var row = Math.min(s, m.rows - 1);
      var col = el.dataset.col !== undefined ? +el.dataset.col : Math.min(f, m.cols - 1);
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

  // The batch view: the statistics table (sort by a column, filter by word) and the centroid paths.
  function compare(a, b) { return a === b ? 0 : (a === null ? 1 : (b === null ? -1 : (a < b ? -1 : 1))); }
  function buildTable() {
    var table = document.getElementById("stats-table"), stats = data.stats;
    if (!table || !stats || table.dataset.ready) { return; }
    table.dataset.ready = "1";
    var filter = document.getElementById("word-filter"), count = document.getElementById("stats-count");
    var wordCol = stats.columns.indexOf("word"), sortCol = -1, asc = true;
    var order = stats.rows.map(function (r, i) { return i; });
    function render() {
      var w = filter.value, frag = document.createDocumentFragment(), n = 0;
      order.forEach(function (i) {
        var r = stats.rows[i];
        if (w && r[wordCol] !== w) { return; }
        var tr = document.createElement("tr");
        r.forEach(function (v) {
          var td = document.createElement("td");
          td.textContent = v === null ? "–" : String(v);
          if (typeof v === "number") { td.className = "num"; }
          tr.appendChild(td);
        });
        frag.appendChild(tr);
        n += 1;
      });
      table.tBodies[0].replaceChildren(frag);
      count.textContent = n + " of " + stats.rows.length + " rows";
    }
    table.querySelectorAll("thead button").forEach(function (button) {
      button.addEventListener("click", function () {
        var c = +button.dataset.col;
        asc = sortCol === c ? !asc : true;
        sortCol = c;
        order.sort(function (i, j) {
          var a = stats.rows[i][c], b = stats.rows[j][c];
          if (a === null || b === null) { return compare(a, b); }  // missing values last either way
          return asc ? compare(a, b) : compare(b, a);
        });
        table.querySelectorAll("th").forEach(function (th, k) {
          th.setAttribute("aria-sort", k === c ? (asc ? "ascending" : "descending") : "none");
        });
        render();
      });
    });
    filter.addEventListener("change", render);
    render();
  }
  function wirePaths(root) {
    root.querySelectorAll("figure.traj:not([data-ready])").forEach(function (fig) {
      fig.dataset.ready = "1";
      var video = fig.querySelector("video"), svg = fig.querySelector("svg.path");
      if (!video || !svg) { return; }
      var frames = svg.dataset.frames ? svg.dataset.frames.split(",").map(Number) : [];
      var fps = +svg.dataset.fps || 1, line = svg.querySelector("polyline"), dot = svg.querySelector("circle.now");
      video.addEventListener("timeupdate", function () {
        var n = Math.floor(video.currentTime * fps + 1e-6), k = 0;
        for (var i = 0; i < frames.length; i += 1) { if (frames[i] <= n) { k = i; } }
        if (k < line.points.numberOfItems) {
          var p = line.points.getItem(k);
          dot.setAttribute("cx", p.x);
          dot.setAttribute("cy", p.y);
        }
      });
    });
  }
  var batch = document.getElementById("batch");
  function openBatch() {
    var slot = batch.querySelector(".batch-slot");
    if (slot && !slot.dataset.ready) { slot.dataset.ready = "1"; slot.innerHTML = data.batch_html || ""; }
    batch.open = true;
    activate(batch);
    buildTable();
    wirePaths(batch);
  }
  if (batch) {
    batch.addEventListener("toggle", function () { if (batch.open) { openBatch(); } });
  }

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
    if (batch && id === "batch") { openBatch(); return; }
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
