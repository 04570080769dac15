"""The report page's inline stylesheet and script (no external resources, so it opens from ``file://``).

The page's data is its ``<script type="application/json" id="report-data">`` block: the batch's name, the
prompts (each with its videos' ids) and the batch view's script. Everything else is loaded on demand by
``<script>`` elements (a page opened from ``file://`` may load scripts, but not ``fetch()`` files):

* **cards**: opening a prompt (``<details>``) puts one placeholder ``<article class="video">`` per video in
  it. An ``IntersectionObserver`` loads a card's script (``cards/<video_id>.js``, :mod:`.cards`) when its
  placeholder comes within 1,500 px of the screen and puts the placeholder back (at the card's height)
  when it goes farther, so the page holds a bounded number of cards at any batch size. Collapsing a
  prompt drops its cards.
* **players**: a video is a ``.vslot`` (``data-src``). A second observer creates its ``<video
  preload="metadata">`` while the slot is within 150 px of the screen and releases it when it leaves
  (paused, ``src`` removed, ``load()``, element removed): Chromium creates at most 1,000 media players per
  page, and the page holds only the ones on screen.
* **maps**: in every ``.panel``, the ``input.step`` / ``input.frame`` sliders move the CSS
  ``background-position`` of each ``.map`` sprite (no image decoding per move) and update the ``output``
  labels; a card's sprite layouts come with it and leave with it.
* **the batch view** (``<details id="batch">``): opening it loads ``batch/view.js`` (:mod:`.batch_html`);
  the statistics table is built from its rows, 100 rows a page (sorted by clicking a column header,
  filtered by the word ``<select>``); each word × prompt group (seed grid, centroid paths) is drawn when
  it nears the screen, from its file of groups (``batch/groups/<k>.js``, loaded then); a centroid path
  is an SVG line over the video's poster frame, with a slider moving
  a dot along the latent frames. ``performance.measure("batch-view")`` is the time from opening to the
  first paint of the view.
* keys: ``j``/``k`` next/previous video (opening prompts as needed), ``e``/``c`` expand/collapse every
  prompt; arrow keys move a focused slider natively; a ``#prompt_002_vid_001`` link opens its prompt.
"""

from __future__ import annotations

from attention_visual.report.svg import STYLE

CSS = (
    """
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
.vslot { display: block; position: relative; background: #111 center / contain no-repeat; border-radius: 6px;
  overflow: hidden; }
.vslot.gen { width: 320px; aspect-ratio: 16 / 9; max-width: 100%; }
.vslot.small { width: 256px; aspect-ratio: 16 / 9; max-width: 100%; }
.vslot video { display: block; width: 100%; height: 100%; object-fit: contain; background: #111; }
article.video[data-state=empty], article.video[data-state=loading] { min-height: 420px; }
article.video .placeholder { color: var(--muted); font-size: 13px; }
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
.plot.curves svg { display: block; max-width: 100%; height: auto; }
.plot.wide img { width: 900px; }
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
.traj-box img, .traj-box .blank { position: absolute; inset: 0; width: 100%; height: 100%; object-fit: fill; }
.traj-box svg { position: absolute; inset: 0; width: 100%; height: 100%; pointer-events: none; }
.traj-box polyline { fill: none; stroke: #39ff88; stroke-width: 2; }
.traj-box circle { fill: #ff3d7f; stroke: #fff; stroke-width: 1; vector-effect: non-scaling-stroke; }
figure.traj input[type=range] { width: 220px; max-width: 100%; margin: 4px 0 0; }
.group[data-state=empty] { min-height: 260px; }
.pager { display: flex; gap: 8px; align-items: center; margin: 6px 0; font-size: 13px; }
.note { color: var(--muted); font-size: 13px; }
"""
    + STYLE
    + "\n"
)

JS = r"""
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var maps = {};  // sprite layouts of the cards on the page, by key
  var AV = window.AV = {};

  function loadScript(src, onerror) {
    var s = document.createElement("script");
    s.src = src;
    s.onload = function () { s.remove(); };
    s.onerror = function () { s.remove(); if (onerror) { onerror(); } };
    document.head.appendChild(s);
  }

  // ---- players: a <video> exists only while its slot is on screen
  function release(slot) {
    var v = slot.querySelector("video");
    if (!v) { return; }
    v.pause();
    v.removeAttribute("src");
    v.load();
    v.remove();
  }
  function attach(slot) {
    if (slot.querySelector("video")) { return; }
    var v = document.createElement("video");
    v.muted = true; v.loop = true; v.controls = true; v.playsInline = true; v.preload = "metadata";
    if (slot.dataset.poster) { v.poster = slot.dataset.poster; }
    v.src = slot.dataset.src;
    slot.appendChild(v);
  }
  var players = new IntersectionObserver(function (entries) {
    entries.forEach(function (en) { if (en.isIntersecting) { attach(en.target); } else { release(en.target); } });
  }, { rootMargin: "150px 0px" });
  function watchSlots(root) { root.querySelectorAll(".vslot").forEach(function (s) { players.observe(s); }); }
  function dropSlots(root) {
    root.querySelectorAll(".vslot").forEach(function (s) { players.unobserve(s); release(s); });
  }

  // ---- map panels: sliders move the sprites
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
  function wirePanels(root) {
    root.querySelectorAll(".panel:not([data-ready])").forEach(function (panel) {
      panel.dataset.ready = "1";
      panel.addEventListener("input", function () { showPanel(panel); });
      showPanel(panel);
    });
  }

  // ---- cards: loaded near the screen, dropped far from it
  var pending = {};
  function placeholder(art) {
    var p = document.createElement("p");
    p.className = "placeholder";
    p.textContent = art.id;
    art.replaceChildren(p);
  }
  function unrender(art) {
    if (art.dataset.state === "ready") {
      art.style.minHeight = art.offsetHeight + "px";  // keeps the scroll position
      dropSlots(art);
      (art.dataset.maps || "").split("\n").forEach(function (k) { delete maps[k]; });
      placeholder(art);
    }
    delete pending[art.id];
    art.dataset.state = "empty";
  }
  AV.card = function (id, card) {
    var art = pending[id];
    delete pending[id];
    if (!art || art.dataset.state !== "loading") { return; }
    var keys = Object.keys(card.maps);
    keys.forEach(function (k) { maps[k] = card.maps[k]; });
    art.dataset.maps = keys.join("\n");
    art.innerHTML = card.html;
    art.dataset.state = "ready";
    art.style.minHeight = "";
    wirePanels(art);
    watchSlots(art);
  };
  function load(art) {
    art.dataset.state = "loading";
    pending[art.id] = art;
    loadScript("cards/" + encodeURIComponent(art.id) + ".js", function () {
      if (art.dataset.state !== "loading") { return; }
      delete pending[art.id];
      art.dataset.state = "error";
      var p = document.createElement("p");
      p.className = "error";
      p.textContent = art.id + ": no card (write the report again: attention-visual report BATCH_DIR)";
      art.replaceChildren(p);
    });
  }
  var cardsObs = new IntersectionObserver(function (entries) {
    entries.forEach(function (en) {
      var art = en.target;
      if (en.isIntersecting) { if (art.dataset.state === "empty") { load(art); } }
      else if (art.dataset.state === "ready" || art.dataset.state === "loading") { unrender(art); }
    });
  }, { rootMargin: "1500px 0px" });

  var sections = Array.prototype.slice.call(document.querySelectorAll("details.prompt"));
  var videosOf = {};
  data.prompts.forEach(function (p) { videosOf[p.id] = p.videos; });
  function fill(d) {
    var box = d.querySelector(".cards");
    if (!box || box.dataset.filled) { return; }
    box.dataset.filled = "1";
    var frag = document.createDocumentFragment(), made = [];
    (videosOf[d.id] || []).forEach(function (id) {
      var art = document.createElement("article");
      art.className = "video";
      art.id = id;
      art.tabIndex = -1;
      art.dataset.state = "empty";
      placeholder(art);
      frag.appendChild(art);
      made.push(art);
    });
    box.appendChild(frag);
    made.forEach(function (art) { cardsObs.observe(art); });
    watchSlots(d.querySelector(".inputs") || document.createElement("div"));
  }
  function empty(d) {
    var box = d.querySelector(".cards");
    if (!box || !box.dataset.filled) { return; }
    box.querySelectorAll("article.video").forEach(function (art) { cardsObs.unobserve(art); unrender(art); });
    box.replaceChildren();
    delete box.dataset.filled;
    dropSlots(d);
  }
  sections.forEach(function (d) {
    if (d.open) { fill(d); }
    d.addEventListener("toggle", function () { if (d.open) { fill(d); } else { empty(d); } });
  });

  // ---- the batch view
  var batch = document.getElementById("batch"), view = null;
  var PAGE = 100;
  function compare(a, b) { return a === b ? 0 : (a === null ? 1 : (b === null ? -1 : (a < b ? -1 : 1))); }
  function buildTable() {
    var table = document.getElementById("stats-table"), stats = view.stats;
    if (!table || !stats || table.dataset.ready) { return; }
    table.dataset.ready = "1";
    var filter = document.getElementById("word-filter"), count = document.getElementById("stats-count");
    var modelFilter = document.getElementById("model-filter"), modelCol = stats.columns.indexOf("model");
    var pageOut = document.getElementById("stats-page");
    var prev = document.getElementById("stats-prev"), next = document.getElementById("stats-next");
    var wordCol = stats.columns.indexOf("word"), sortCol = -1, asc = true, page = 0, kept = [];
    var order = stats.rows.map(function (r, i) { return i; });
    function select() {
      var w = filter.value, m = modelFilter ? modelFilter.value : "";
      kept = order.filter(function (i) {
        return (!w || stats.rows[i][wordCol] === w) && (!m || stats.rows[i][modelCol] === m);
      });
      count.textContent = kept.length + " of " + stats.rows.length + " rows";
    }
    function render() {
      var pages = Math.max(1, Math.ceil(kept.length / PAGE));
      page = Math.min(Math.max(page, 0), pages - 1);
      var frag = document.createDocumentFragment();
      kept.slice(page * PAGE, (page + 1) * PAGE).forEach(function (i) {
        var tr = document.createElement("tr");
        stats.rows[i].forEach(function (v) {
          var td = document.createElement("td");
          td.textContent = v === null ? "–" : String(v);
          if (typeof v === "number") { td.className = "num"; }
          tr.appendChild(td);
        });
        frag.appendChild(tr);
      });
      table.tBodies[0].replaceChildren(frag);
      pageOut.textContent = kept.length ? "rows " + (page * PAGE + 1) + "–" + Math.min(kept.length, (page + 1) * PAGE) +
        " · page " + (page + 1) + " of " + pages : "";
      prev.disabled = page === 0;
      next.disabled = page >= pages - 1;
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
        select(); page = 0; render();
      });
    });
    [filter, modelFilter].forEach(function (f) {
      if (f) { f.addEventListener("change", function () { select(); page = 0; render(); }); }
    });
    prev.addEventListener("click", function () { page -= 1; render(); });
    next.addEventListener("click", function () { page += 1; render(); });
    select();
    render();
  }
  function wirePaths(root) {
    root.querySelectorAll("figure.traj:not([data-ready])").forEach(function (fig) {
      fig.dataset.ready = "1";
      var slider = fig.querySelector("input.pframe"), line = fig.querySelector("polyline");
      var dot = fig.querySelector("circle.now"), out = fig.querySelector("output");
      var frames = (fig.dataset.frames || "").split(",");
      if (!slider || !line || !dot) { return; }
      slider.addEventListener("input", function () {
        var k = +slider.value;
        if (k < line.points.numberOfItems) {
          var p = line.points.getItem(k);
          dot.setAttribute("cx", p.x);
          dot.setAttribute("cy", p.y);
        }
        if (out) { out.textContent = "latent frame " + (k + 1) + " · from video frame " + (+frames[k] + 1); }
      });
    });
  }
  var chunks = {};  // files of groups: undefined (not asked), "loading", or their groups
  function renderGroup(g) {
    var i = +g.dataset.group, chunk = chunks[Math.floor(i / view.per_file)];
    var group = chunk[i % view.per_file];
    Object.keys(group.maps).forEach(function (k) { maps[k] = group.maps[k]; });
    g.innerHTML = group.html;
    g.dataset.state = "ready";
    wirePanels(g);
    wirePaths(g);
  }
  AV.groups = function (k, groups) {
    chunks[k] = groups;
    batch.querySelectorAll(".group[data-state=wanted]").forEach(function (g) {
      if (Math.floor(+g.dataset.group / view.per_file) === k) { renderGroup(g); }
    });
  };
  var groupsObs = new IntersectionObserver(function (entries) {
    entries.forEach(function (en) {
      var g = en.target;
      if (!en.isIntersecting || g.dataset.state !== "empty") { return; }
      groupsObs.unobserve(g);
      var k = Math.floor(+g.dataset.group / view.per_file);
      if (Array.isArray(chunks[k])) { renderGroup(g); return; }
      g.dataset.state = "wanted";
      if (chunks[k] === "loading") { return; }
      chunks[k] = "loading";
      loadScript("batch/groups/" + k + ".js", function () {
        g.textContent = "this group's file is missing: write the report again (attention-visual report BATCH_DIR)";
      });
    });
  }, { rootMargin: "800px 0px" });
  AV.batch = function (v) {
    view = v;
    var slot = batch.querySelector(".batch-slot");
    slot.innerHTML = v.html;
    buildTable();
    slot.querySelectorAll(".group").forEach(function (g) { groupsObs.observe(g); });
    batch.dataset.loaded = "ready";
    requestAnimationFrame(function () {
      requestAnimationFrame(function () {
        performance.mark("batch-view-painted");
        performance.measure("batch-view", "batch-view-open", "batch-view-painted");
        batch.dataset.painted = "1";
      });
    });
  };
  function openBatch() {
    batch.open = true;
    if (batch.dataset.loaded) { return; }
    batch.dataset.loaded = "loading";
    performance.mark("batch-view-open");
    loadScript(data.batch_view, function () {
      batch.dataset.loaded = "error";
      var p = document.createElement("p");
      p.className = "error";
      p.textContent = "the batch view's data is missing: write the report again (attention-visual report BATCH_DIR)";
      batch.querySelector(".batch-slot").replaceChildren(p);
    });
  }
  if (batch) {
    batch.addEventListener("toggle", function () { if (batch.open) { openBatch(); } });
  }

  // ---- keys and links
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
  function openSection(i) { sections[i].open = true; fill(sections[i]); return sections[i]; }
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
    data.prompts.forEach(function (p, i) {
      if (p.videos.indexOf(id) >= 0) {
        openSection(sections.indexOf(document.getElementById(p.id)));
        show(document.getElementById(id));
      }
    });
  }
  reveal();
  window.addEventListener("hashchange", reveal);

  document.addEventListener("keydown", function (ev) {
    var t = ev.target;
    if (ev.ctrlKey || ev.metaKey || ev.altKey) { return; }
    if (t && (t.tagName === "INPUT" && t.type !== "range" || t.tagName === "TEXTAREA" || t.tagName === "SELECT")) {
      return;
    }
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
