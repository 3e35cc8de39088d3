// pictext web page: plain JavaScript, no libraries, everything from this server.
"use strict";

const $ = (sel) => document.querySelector(sel);
const state = { info: null, file: null, points: [], classes: [], highlight: new Set(), hover: null };
// Kelly's colours of maximum contrast (white and black left out): 20 classes stay apart;
// past 20 the legend and the tooltip name the class on hover.
const PALETTE = [
  "#0067a5", "#f38400", "#be0032", "#008856", "#875692", "#f3c300", "#a1caf1", "#882d17",
  "#8db600", "#e68fac", "#848482", "#604e97", "#f99379", "#2b3d26", "#dcd300", "#b3446c",
  "#c2b280", "#654522", "#e25822", "#f6a600",
];

// ---- API -------------------------------------------------------------------------------------
async function api(path, options) {
  const started = performance.now();
  const res = await fetch(path, options);
  let body = null;
  try { body = await res.json(); } catch (e) { body = null; }
  if (!res.ok) {
    const err = body && body.error ? body.error : { message: `${res.status} ${res.statusText}` };
    const hint = err.hint && !err.message.includes(err.hint) ? ` — ${err.hint}` : "";
    const e = new Error(err.message + hint);
    e.status = res.status;
    throw e;
  }
  body._ms = Math.round(performance.now() - started);
  return body;
}

function itemUrl(id) {
  const segs = id.split("/").map((s) => (s === "." || s === "..") ? s.replace(/\./g, "%2E") : encodeURIComponent(s));
  return "/items/" + segs.join("/");
}

function el(tag, attrs, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

function colourOf(label) {
  const i = state.classes.indexOf(label);
  return i < 0 ? "#999" : PALETTE[i % PALETTE.length];
}

// ---- start -----------------------------------------------------------------------------------
async function init() {
  const info = await api("/info");
  state.info = info;
  document.title = info.title;
  $("#title").textContent = info.title;
  const parts = Object.entries(info.parts).map(([p, ok]) => `${p} ${ok ? "✓" : "✗"}`).join(" · ");
  $("#subtitle").textContent = `${info.dataset || "no dataset"} · ${info.items} items · ${parts}`;
  for (const c of info.classes) $("#claim").append(el("option", { value: c }, c));
  if (!info.parts.classifier) {
    $("#tags-out").replaceWith(el("p", { class: "muted" }, `No classifier in this bundle: ${info.missing.classifier}`));
    $("#claim-row").hidden = true;
  }
  if (info.parts.index) setupDivergent(info.index.divergence);
  setupBrowser(info);
  if (info.parts.index) await loadMap();
  else $("#map-panel").append(el("p", { class: "muted" }, `No index in this bundle: ${info.missing.index}`));
  window.addEventListener("hashchange", route);
  route();
}

// ---- upload ----------------------------------------------------------------------------------
function setFile(file) {
  if (!file) return;
  state.file = file;
  const img = $("#preview");
  if (img.src) URL.revokeObjectURL(img.src);
  img.src = URL.createObjectURL(file);
  img.hidden = false;
  $("#drop-text").hidden = true;
  $("#analyse").disabled = false;
  analyse();
}

function setupDrop() {
  const drop = $("#drop");
  drop.addEventListener("click", () => $("#file").click());
  drop.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") $("#file").click(); });
  $("#file").addEventListener("change", (e) => setFile(e.target.files[0]));
  for (const ev of ["dragenter", "dragover"]) {
    drop.addEventListener(ev, (e) => { e.preventDefault(); drop.classList.add("over"); });
  }
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    if (e.dataTransfer && e.dataTransfer.files.length) setFile(e.dataTransfer.files[0]);
  });
  $("#analyse").addEventListener("click", analyse);
  // Answers follow the text: a change re-runs them (debounced), and says so meanwhile.
  let timer = null;
  for (const id of ["#title-in", "#description-in", "#tags-in"]) {
    $(id).addEventListener("input", () => {
      if (!state.answered) return;
      $("#status").textContent = "text changed: re-running…";
      $("#status").classList.add("stale");
      clearTimeout(timer);
      timer = setTimeout(analyse, 600);
    });
  }
  $("#claim").addEventListener("change", () => { if (state.file) analyse(); });
}

// The divergent list's mode and spread start at the server's defaults (/info).
function setupDivergent(div) {
  const mode = $("#div-mode");
  for (const m of div.modes) mode.append(el("option", { value: m }, m));
  mode.value = div.mode;
  $("#div-spread").value = div.spread;
  const sync = () => {
    $("#div-spread-out").textContent = Number($("#div-spread").value).toFixed(2);
    $("#div-spread").disabled = mode.value === "farthest";
  };
  sync();
  const again = () => { sync(); if (state.file || $("#title-in").value) divergentJob(); };
  mode.addEventListener("change", again);
  $("#div-spread").addEventListener("input", sync);
  $("#div-spread").addEventListener("change", again);
}

function divergentJob() {
  const knobs = { k: kValue(), mode: $("#div-mode").value, spread: $("#div-spread").value };
  return api("/divergent", { method: "POST", body: form(knobs) }).then((r) => {
    $("#divergent-mode").textContent = `· ${r.divergence.describe}`;
    showGrid("#divergent-grid", r.hits);
  }, (e) => showError("#divergent-grid", e));
}

function form(extra) {
  const fd = new FormData();
  if (state.file) fd.append("image", state.file, state.file.name || "upload");
  fd.append("title", $("#title-in").value);
  fd.append("description", $("#description-in").value);
  fd.append("tags", $("#tags-in").value);
  for (const [k, v] of Object.entries(extra || {})) fd.append(k, v);
  return fd;
}

async function analyse() {
  const parts = state.info.parts;
  const status = $("#status");
  status.textContent = "working…";
  const started = performance.now();
  const jobs = [];
  const post = (path, extra) => api(path, { method: "POST", body: form(extra) });
  // The first request decodes and embeds the upload; the others then find it in the
  // server's caches, so they go in parallel after it.
  let first = null;
  const queue = (job) => { if (first === null) first = job(); else jobs.push(job); };
  if (parts.classifier) {
    queue(() => post("/tag", { k: 5 }).then(showTags, (e) => showError("#tags-out", e)));
    const claim = $("#claim").value;
    if (claim) queue(() => post("/verify", { label: claim }).then(showVerdict, (e) => showError("#verify-out", e)));
  }
  if (parts.index) {
    queue(() => post("/similar", { k: kValue() }).then((r) => showGrid("#similar-grid", r.hits, true), (e) => showError("#similar-grid", e)));
    queue(divergentJob);
  }
  if (parts.captioner && state.file) {
    queue(() => post("/caption", { k: kValue() }).then(showCaption, (e) => showError("#caption-out", e)));
  }
  state.failed = null;
  if (first !== null) await first;
  if (state.failed) {  // the upload itself is the problem: say it once, not per panel
    for (const sel of ["#tags-out", "#verify-out", "#similar-grid", "#divergent-grid", "#caption-out"]) {
      const box = $(sel);
      if (box) box.replaceChildren();
    }
    status.classList.remove("stale");
    status.replaceChildren(el("span", { class: "error" }, state.failed.message));
    return;
  }
  await Promise.all(jobs.map((job) => job()));
  state.answered = true;
  status.classList.remove("stale");
  status.textContent = `done in ${Math.round(performance.now() - started)} ms`;
}

// ---- results ---------------------------------------------------------------------------------
function showError(sel, err) {
  if (err.status && err.status < 500 && err.status !== 404) state.failed = state.failed || err;
  const box = $(sel);
  box.replaceChildren(el("p", { class: "error" }, err.message));
}

function showTags(res) {
  const list = $("#tags-out");
  list.replaceChildren();
  for (const t of res.top) {
    const li = el("li");
    li.append(el("span", { class: "label" }, t.label));
    const bar = el("span", { class: "bar" });
    const fill = el("span", { class: "fill" });
    fill.style.width = `${(100 * t.p).toFixed(1)}%`;
    bar.append(fill);
    li.append(bar, el("span", { class: "p" }, `${(100 * t.p).toFixed(1)}%`));
    list.append(li);
  }
}

function showVerdict(v) {
  const box = $("#verify-out");
  const agree = v.verdict === "agree";
  const badge = el("span", { class: `badge ${agree ? "agree" : "disagree"}` }, agree ? "AGREE" : "DISAGREE");
  const text = agree
    ? ` with “${v.claimed}” (p = ${v.confidence.toFixed(2)})`
    : ` with “${v.claimed}” (p = ${v.confidence.toFixed(2)}); the model says “${v.predicted}”`;
  box.replaceChildren(badge, document.createTextNode(text));
  box.classList.remove("muted");
}

function showCaption(res) {
  const p = $("#caption-out");
  p.textContent = res.caption ? `“${res.caption}”` : "(empty caption)";
  p.classList.remove("muted");
}

function card(hit) {
  const a = el("a", { class: "card", href: "#item=" + encodeURIComponent(hit.id), title: hit.id, "data-id": hit.id });
  if (hit.thumbnail) a.append(el("img", { src: hit.thumbnail + "?size=128", alt: hit.title || hit.id, loading: "lazy" }));
  const lab = el("span", { class: "card-label" }, hit.label || "");
  lab.style.borderColor = colourOf(hit.label);
  a.append(lab, el("span", { class: "card-text" }, hit.title || hit.id));
  if (hit.caption) a.append(el("span", { class: "card-caption", title: "generated caption" }, `“${hit.caption}”`));
  let meta = hit.distance !== undefined ? `d = ${hit.distance.toFixed(3)}` : hit.score !== undefined ? `cos = ${hit.score.toFixed(2)}` : "";
  // joint space: how close the query's image alone and its text alone are to this item
  if (hit.parts) meta += Object.entries(hit.parts).map(([k, v]) => ` · ${k} ${v.toFixed(2)}`).join("");
  if (meta) a.append(el("span", { class: "card-meta" }, meta));
  return a;
}

function showGrid(sel, hits, mark) {
  const grid = $(sel);
  grid.replaceChildren(...(hits.length ? hits.map(card) : [el("p", { class: "muted" }, "nothing found")]));
  if (mark) {
    state.highlight = new Set(hits.map((h) => h.id));
    drawMap();
  }
}

// ---- item view -------------------------------------------------------------------------------
function route() {
  const m = location.hash.match(/^#item=(.+)$/);
  if (m) openItem(decodeURIComponent(m[1]));
  else $("#item-view").hidden = true;
}

async function openItem(id) {
  const view = $("#item-view");
  view.hidden = false;
  $("#item-title").textContent = "loading…";
  try {
    const it = await api(itemUrl(id) + "?neighbours=6");
    $("#item-img").src = it.thumbnail + "?size=256";
    $("#item-img").alt = it.title || it.id;
    $("#item-title").textContent = it.title || "(no title)";
    $("#item-id").textContent = it.id;
    $("#item-description").textContent = it.description || "";
    $("#item-label").textContent = it.label || "—";
    $("#item-tags").textContent = it.tags.length ? it.tags.join(", ") : "—";
    $("#item-caption").textContent = it.caption || "—";
    showGrid("#item-similar", it.similar);
    showGrid("#item-divergent", it.divergent);
    $("#item-divergent-mode").textContent = it.divergence ? `· ${it.divergence.describe}` : "";
    showFlags(it.audit);
  } catch (err) {
    $("#item-title").textContent = err.message;
  }
}

// ←/→ in the item view: the next or previous item of the grid it was opened from.
function stepItem(delta) {
  const ids = [...document.querySelectorAll("#browse-grid a.card")].map((a) => a.dataset.id);
  const m = location.hash.match(/^#item=(.+)$/);
  const at = m ? ids.indexOf(decodeURIComponent(m[1])) : -1;
  if (at < 0 || !ids.length) return;
  const next = ids[(at + delta + ids.length) % ids.length];
  location.replace("#item=" + encodeURIComponent(next));
}

function closeItem() {
  history.pushState("", document.title, location.pathname + location.search);
  $("#item-view").hidden = true;
}

// ---- map: map.js ------------------------------------------------------------------------------

// ---- wire up ---------------------------------------------------------------------------------
document.addEventListener("DOMContentLoaded", () => {
  setupDrop();
  $("#item-close").addEventListener("click", closeItem);
  $("#item-view").addEventListener("click", (e) => { if (e.target.id === "item-view") closeItem(); });
  document.addEventListener("keydown", (e) => {
    if ($("#item-view").hidden) return;
    if (e.key === "Escape") closeItem();
    else if (e.key === "ArrowRight" || e.key === "ArrowLeft") stepItem(e.key === "ArrowRight" ? 1 : -1);
  });
  init().catch((err) => { $("#subtitle").textContent = `cannot start: ${err.message}`; });
});
