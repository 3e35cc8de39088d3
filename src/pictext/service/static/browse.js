// pictext collection browser: a paged grid with filters and sorts (POST /browse), text
// search with an adjustable k (POST /similar), recommendations from picked items
// (POST /recommend), the audit's flags, and a box selection on the map that filters the grid.
"use strict";

const browser = { page: 0, perPage: 48, total: 0, picked: new Set(), selection: null };

function kValue() {
  const max = (state.info && state.info.limits && state.info.limits.max_k) || 100;
  const k = Math.round(Number($("#k").value) || 8);
  return Math.max(1, Math.min(max, k));
}

function setupBrowser(info) {
  const f = info.facets || { labels: {}, fine_labels: {} };
  for (const [c, n] of Object.entries(f.labels)) $("#f-label").append(el("option", { value: c }, `${c} (${n})`));
  const fine = Object.entries(f.fine_labels);
  for (const [c, n] of fine) $("#f-fine").append(el("option", { value: c }, `${c} (${n})`));
  $("#f-fine-row").hidden = fine.length === 0;
  if (!info.parts.audit) {
    for (const v of ["uniqueness", "error"]) {
      const o = $(`#f-sort option[value=${v}]`);
      o.disabled = true;
      o.textContent += " (needs pictext audit)";
    }
  }
  if (!info.parts.index) {
    $("#f-sort option[value=similarity]").disabled = true;
    $("#search-btn").disabled = true;
  }
  $("#audit-summary").textContent = auditSummary(info.audit);
  $("#k").max = (info.limits && info.limits.max_k) || 100;
  for (const id of ["#f-label", "#f-fine", "#f-text", "#f-sort"]) {
    $(id).addEventListener("change", () => { browser.page = 0; loadPage(); });
  }
  $("#prev").addEventListener("click", () => { if (browser.page > 0) { browser.page--; loadPage(); } });
  $("#next").addEventListener("click", () => {
    if ((browser.page + 1) * browser.perPage < browser.total) { browser.page++; loadPage(); }
  });
  $("#search-form").addEventListener("submit", (e) => { e.preventDefault(); search(); });
  $("#rec-btn").addEventListener("click", recommend);
  $("#clear-sel").addEventListener("click", () => setSelection(null));
  $("#browse-grid").addEventListener("keydown", gridKeys);
  restoreView();
  loadPage();
  if ($("#q").value.trim()) search();
}

// The view (filters, sort, search, page) lives in the URL's query, the open item in its
// hash, so a view can be reloaded or shared.
const VIEW = { label: "#f-label", fine: "#f-fine", text: "#f-text", sort: "#f-sort", q: "#q" };

function restoreView() {
  const params = new URLSearchParams(location.search);
  for (const [key, sel] of Object.entries(VIEW)) {
    const v = params.get(key);
    if (v !== null && $(sel)) $(sel).value = v;
  }
  browser.page = Math.max(0, (Number(params.get("page")) || 1) - 1);
}

function saveView() {
  const params = new URLSearchParams();
  for (const [key, sel] of Object.entries(VIEW)) {
    const v = $(sel) ? $(sel).value : "";
    if (v && !(key === "sort" && v === "dataset")) params.set(key, v);
  }
  if (browser.page) params.set("page", browser.page + 1);
  const query = params.toString();
  history.replaceState(history.state, "", location.pathname + (query ? "?" + query : "") + location.hash);
}

// Arrow keys move between the cards of the grid (Enter opens one: they are links).
function gridKeys(e) {
  const cards = [...$("#browse-grid").querySelectorAll("a.card")];
  const at = cards.indexOf(document.activeElement);
  if (at < 0 || !["ArrowRight", "ArrowLeft", "ArrowDown", "ArrowUp"].includes(e.key)) return;
  const top = cards[0].getBoundingClientRect().top;
  const perRow = Math.max(1, cards.filter((c) => c.getBoundingClientRect().top === top).length);
  const step = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: perRow, ArrowUp: -perRow }[e.key];
  const next = cards[Math.max(0, Math.min(cards.length - 1, at + step))];
  e.preventDefault();
  next.focus();
}

function auditSummary(a) {
  if (!a) return "No audit in this bundle: run pictext audit DATASET --out BUNDLE/audit for uniqueness, suspected label errors and duplicates.";
  const d = a.duplicates || {};
  const dup = Object.entries(d).map(([k, v]) => `${v.groups} ${k} groups (${v.label_conflicts} with label conflicts)`).join(", ");
  const err = a.suspected_errors !== undefined ? `${a.suspected_errors} suspected label errors, ` : "";
  return `Audit: ${err}${dup}.`;
}

async function loadPage() {
  const fd = new FormData();
  fd.append("label", $("#f-label").value);
  fd.append("fine_label", $("#f-fine").value);
  fd.append("has_text", $("#f-text").value);
  fd.append("sort", $("#f-sort").value);
  fd.append("q", $("#q").value);
  fd.append("page", browser.page);
  fd.append("per_page", browser.perPage);
  const sel = browser.selection;  // a box or lasso on the map: the server selects the items
  if (sel && sel.box) fd.append("box", sel.box);
  if (sel && sel.polygon) fd.append("polygon", sel.polygon);
  saveView();
  const grid = $("#browse-grid");
  try {
    const r = await api("/browse", { method: "POST", body: fd });
    browser.total = r.total;
    grid.replaceChildren(...(r.items.length ? r.items.map(browseCard) : [el("p", { class: "muted" }, "no item matches")]));
    const pages = Math.max(1, Math.ceil(r.total / r.per_page));
    $("#page-no").textContent = `page ${r.page + 1} of ${pages}`;
    $("#browse-count").textContent = `· ${r.total} items`;
    if (sel) $("#selection-count").textContent = `${r.total} items selected on the map`;
    $("#prev").disabled = r.page === 0;
    $("#next").disabled = r.page + 1 >= pages;
  } catch (err) {
    grid.replaceChildren(el("p", { class: "error" }, err.message));
  }
}

function browseCard(hit) {
  const a = card(hit);
  const f = hit.flags;
  const sort = $("#f-sort").value;
  if (hit.sort_score !== null && hit.sort_score !== undefined && sort !== "dataset") {
    const name = { uniqueness: "uniqueness", error: "error score", similarity: "d" }[sort];
    a.append(el("span", { class: "card-meta score" }, `${name} = ${hit.sort_score.toFixed(3)}`));
  }
  if (f) {
    const badges = el("span", { class: "flags" });
    if (f.suspected_error) badges.append(el("span", { class: "flag suspect", title: `the model says ${f.predicted}` }, "suspect label"));
    const conflict = Object.values(f.duplicates || {}).some((d) => d.label_conflict);
    if (conflict) badges.append(el("span", { class: "flag conflict" }, "duplicate, other label"));
    else if (Object.keys(f.duplicates || {}).length) badges.append(el("span", { class: "flag dup" }, "duplicate"));
    if (badges.childNodes.length) a.append(badges);
  }
  const pick = el("button", { type: "button", class: "pick", "aria-pressed": String(browser.picked.has(hit.id)), title: "pick for recommendations" }, browser.picked.has(hit.id) ? "✓ picked" : "+ pick");
  pick.addEventListener("click", (e) => {
    e.preventDefault();
    e.stopPropagation();
    if (browser.picked.has(hit.id)) browser.picked.delete(hit.id); else browser.picked.add(hit.id);
    pick.textContent = browser.picked.has(hit.id) ? "✓ picked" : "+ pick";
    pick.setAttribute("aria-pressed", String(browser.picked.has(hit.id)));
    const n = browser.picked.size;
    $("#rec-btn").disabled = n === 0 || !state.info.parts.index;
    $("#rec-btn").textContent = `Recommend from ${n} picked`;
  });
  a.append(pick);
  return a;
}

async function search() {
  const q = $("#q").value.trim();
  if (!q) return;
  const fd = new FormData();
  fd.append("title", q);
  fd.append("k", kValue());
  try {
    const r = await api("/similar", { method: "POST", body: fd });
    showGrid("#search-grid", r.hits, true);
    $("#search-note").textContent = `· ${r.hits.length} nearest to “${q}”`;
  } catch (err) {
    showError("#search-grid", err);
  }
  if ($("#f-sort").value === "similarity") { browser.page = 0; loadPage(); }
}

async function recommend() {
  const fd = new FormData();
  for (const id of browser.picked) fd.append("history", id);
  fd.append("k", kValue());
  try {
    const r = await api("/recommend", { method: "POST", body: fd });
    showGrid("#rec-grid", r.hits, true);
  } catch (err) {
    showError("#rec-grid", err);
  }
}

// A map selection: null, or {box: "x0,y0,x1,y1"} / {polygon: "x,y;..."} with the ids of the
// points shown on the map inside it (what the map highlights).
function setSelection(sel) {
  browser.selection = sel && (sel.box || sel.polygon) ? sel : null;
  browser.page = 0;
  $("#selection-note").hidden = !browser.selection;
  $("#selection-count").textContent = browser.selection ? "selecting…" : "";
  state.highlight = new Set((browser.selection && browser.selection.shown) || []);
  drawMap();
  loadPage();
}

function showFlags(flags) {
  const box = $("#item-flags");
  box.replaceChildren();
  if (!flags) { box.append(el("p", { class: "muted" }, "No audit for this item.")); return; }
  const lines = [];
  if (flags.error_score !== undefined && flags.error_score !== null) {
    const verdict = flags.suspected_error ? "suspected label error" : "label looks fine";
    lines.push(`${verdict} (error score ${flags.error_score.toFixed(3)}; the out-of-fold model says “${flags.predicted}”, p = ${flags.predicted_p.toFixed(2)})`);
  }
  if (flags.uniqueness !== null) lines.push(`uniqueness ${flags.uniqueness.toFixed(3)} (mean distance to its nearest items)`);
  if (!Object.keys(flags.duplicates || {}).length) lines.push("no duplicate found");
  for (const t of lines) box.append(el("li", {}, t));
  for (const [kind, d] of Object.entries(flags.duplicates || {})) {  // each duplicate a link
    const li = el("li", {}, `duplicate by ${kind} of ${d.with.length} item(s)${d.label_conflict ? ", with another label" : ""}: `);
    d.with.slice(0, 5).forEach((id, i) => {
      if (i) li.append(", ");
      li.append(el("a", { href: "#item=" + encodeURIComponent(id), class: "dup-link" }, id));
    });
    box.append(li);
  }
}
