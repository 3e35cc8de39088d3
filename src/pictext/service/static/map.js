// pictext collection map: a bounded sample of the current view (GET /map with the view's
// box), zoom with the wheel, hover through grid buckets, points drawn once per change onto an
// offscreen layer (a hover frame only copies it and draws a ring), and a box (drag) or a
// lasso (shift + drag) sent to the server as geometry: POST /browse selects the items.
"use strict";

const PAD = 14;
const CELL = 12; // px: grid bucket of the hover index (the hover radius is 8 px)
const mapState = { view: [0, 0, 1, 1], inView: 0, total: 0, layer: null, grid: null, lasso: null, fetchTimer: null };

async function loadMap() {
  await fetchView();
  const legend = $("#legend");
  for (const c of state.classes) {
    const li = el("li", { tabindex: "0" }, c);
    li.style.setProperty("--dot", colourOf(c));
    const on = () => { state.focusClass = c; drawMap(); };
    const off = () => { state.focusClass = null; drawMap(); };
    li.addEventListener("mouseenter", on);
    li.addEventListener("focus", on);
    li.addEventListener("mouseleave", off);
    li.addEventListener("blur", off);
    legend.append(li);
  }
  const canvas = $("#map");
  canvas.addEventListener("mousemove", (e) => hoverMap(e));
  canvas.addEventListener("mouseleave", () => { state.hover = null; $("#map-tip").hidden = true; drawOverlay(); });
  canvas.addEventListener("click", (e) => {
    if (state.dragged) { state.dragged = false; return; }
    const p = nearest(e);
    if (p) location.hash = "item=" + encodeURIComponent(p.id);
  });
  canvas.addEventListener("wheel", (e) => { e.preventDefault(); zoomAt(e, e.deltaY < 0 ? 0.7 : 1 / 0.7); }, { passive: false });
  const reset = el("button", { type: "button", id: "map-reset", hidden: "" }, "whole map");
  reset.addEventListener("click", () => { mapState.view = [0, 0, 1, 1]; fetchView(); });
  $("#map-method").after(reset);
  setupBoxSelect(canvas);
  window.addEventListener("resize", drawMap);
  window.addEventListener("scroll", () => { mapState.rect = null; }, { passive: true });
  drawMap();
}

async function fetchView() {
  const [x0, y0, x1, y1] = mapState.view;
  const m = await api(`/map?x0=${x0}&y0=${y0}&x1=${x1}&y1=${y1}`);
  state.points = m.points;
  state.classes = m.classes;
  mapState.inView = m.in_view;
  mapState.total = m.total;
  const shown = m.points.length < m.in_view ? `${m.points.length} of ${m.in_view} shown` : `${m.in_view} items`;
  const zoomed = m.in_view < m.total ? ` in view (of ${m.total}); wheel to zoom` : "; wheel to zoom";
  $("#map-method").textContent = `(${m.method}, ${shown}${zoomed}; click a point, drag a box, shift-drag a lasso)`;
  const reset = $("#map-reset");
  if (reset) reset.hidden = x1 - x0 >= 1 && y1 - y0 >= 1;
  drawMap();
}

function zoomAt(e, factor) {
  const rect = $("#map").getBoundingClientRect();
  const [mx, my] = fromCanvas(e.clientX - rect.left, e.clientY - rect.top, rect.width, rect.height);
  let [x0, y0, x1, y1] = mapState.view;
  const w = Math.min(1, Math.max(1e-4, (x1 - x0) * factor));
  const h = Math.min(1, Math.max(1e-4, (y1 - y0) * factor));
  x0 = mx - (mx - x0) * (w / (x1 - x0));
  y0 = my - (my - y0) * (h / (y1 - y0));
  x0 = Math.min(Math.max(x0, 0), 1 - w);
  y0 = Math.min(Math.max(y0, 0), 1 - h);
  mapState.view = [x0, y0, x0 + w, y0 + h];
  drawMap(); // the points at hand move at once; the view's own sample follows
  clearTimeout(mapState.fetchTimer);
  mapState.fetchTimer = setTimeout(fetchView, 150);
}

function toCanvas(p, w, h) {
  const [x0, y0, x1, y1] = mapState.view;
  const u = (p.x - x0) / (x1 - x0), v = (p.y - y0) / (y1 - y0);
  return [PAD + u * (w - 2 * PAD), PAD + (1 - v) * (h - 2 * PAD)];
}

function fromCanvas(cx, cy, w, h) {
  const [x0, y0, x1, y1] = mapState.view;
  const u = (cx - PAD) / (w - 2 * PAD), v = 1 - (cy - PAD) / (h - 2 * PAD);
  return [x0 + u * (x1 - x0), y0 + v * (y1 - y0)];
}

// Every point onto an offscreen layer, and the hover grid: once per change of points, size,
// highlight or focus. Hover frames only copy the layer (drawOverlay).
function drawMap() {
  const canvas = $("#map");
  if (!state.points.length && !mapState.total) return;
  const ratio = window.devicePixelRatio || 1;
  const w = canvas.parentElement.clientWidth;
  const h = Math.round(Math.min(520, Math.max(300, w * 0.6)));
  canvas.style.width = `${w}px`;
  canvas.style.height = `${h}px`;
  canvas.width = Math.round(w * ratio);
  canvas.height = Math.round(h * ratio);
  const layer = document.createElement("canvas");
  layer.width = canvas.width;
  layer.height = canvas.height;
  const ctx = layer.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  const r = state.points.length > 2000 ? 2.2 : 3.5;
  const grid = new Map();
  const xy = new Float32Array(2 * state.points.length);
  state.points.forEach((p, i) => {
    const [x, y] = toCanvas(p, w, h);
    xy[2 * i] = x;
    xy[2 * i + 1] = y;
    if (x < -PAD || y < -PAD || x > w + PAD || y > h + PAD) return;
    const key = Math.floor(x / CELL) * 65536 + Math.floor(y / CELL);
    const cell = grid.get(key);
    if (cell) cell.push(i); else grid.set(key, [i]);
    ctx.fillStyle = colourOf(p.label);
    const dim = (state.highlight.size && !state.highlight.has(p.id)) || (state.focusClass && p.label !== state.focusClass);
    ctx.globalAlpha = dim ? 0.18 : 0.9;
    ctx.beginPath();
    ctx.arc(x, y, r, 0, 2 * Math.PI);
    ctx.fill();
  });
  ctx.globalAlpha = 1;
  ctx.lineWidth = 2;
  ctx.strokeStyle = "#111";
  if (state.highlight.size && state.highlight.size < 5000) {
    state.points.forEach((p, i) => {
      if (!state.highlight.has(p.id)) return;
      ctx.beginPath();
      ctx.arc(xy[2 * i], xy[2 * i + 1], r + 3, 0, 2 * Math.PI);
      ctx.stroke();
    });
  }
  mapState.layer = { canvas: layer, w, h, r, ratio };
  mapState.rect = null; // re-read on the next move
  mapState.grid = { cells: grid, xy };
  drawOverlay();
}

// One frame: the layer, the hovered point's ring, the box or lasso being drawn.
function drawOverlay() {
  const L = mapState.layer;
  if (!L) return;
  const ctx = $("#map").getContext("2d");
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.clearRect(0, 0, L.canvas.width, L.canvas.height);
  ctx.drawImage(L.canvas, 0, 0);
  ctx.setTransform(L.ratio, 0, 0, L.ratio, 0, 0);
  if (state.hover) {
    const [x, y] = toCanvas(state.hover, L.w, L.h);
    ctx.lineWidth = 2;
    ctx.strokeStyle = "#111";
    ctx.beginPath();
    ctx.arc(x, y, L.r + 3, 0, 2 * Math.PI);
    ctx.stroke();
  }
  ctx.setLineDash([5, 4]);
  ctx.strokeStyle = "#333";
  ctx.lineWidth = 1.5;
  if (state.box) {
    const [x0, y0, x1, y1] = state.box;
    ctx.strokeRect(Math.min(x0, x1), Math.min(y0, y1), Math.abs(x1 - x0), Math.abs(y1 - y0));
  }
  if (mapState.lasso && mapState.lasso.length > 1) {
    ctx.beginPath();
    mapState.lasso.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
    ctx.closePath();
    ctx.stroke();
  }
  ctx.setLineDash([]);
}

// Drag a box (or shift-drag a lasso) on the map: the server selects the items inside it and
// the collection grid shows only them.
function setupBoxSelect(canvas) {
  const at = (e) => { const r = canvas.getBoundingClientRect(); return [e.clientX - r.left, e.clientY - r.top]; };
  canvas.addEventListener("mousedown", (e) => {
    state.dragged = false;
    if (e.shiftKey) { mapState.lasso = [at(e)]; state.box = null; } else { state.box = [...at(e), ...at(e)]; mapState.lasso = null; }
  });
  window.addEventListener("mousemove", (e) => {  // on window: the drag may leave the canvas
    if (!(state.box || mapState.lasso) || !(e.buttons & 1)) return;
    const r = canvas.getBoundingClientRect();
    const [x, y] = at(e).map((v, i) => Math.max(0, Math.min(i ? r.height : r.width, v)));
    if (mapState.lasso) {
      const [lx, ly] = mapState.lasso[mapState.lasso.length - 1];
      if (Math.abs(x - lx) + Math.abs(y - ly) > 3) mapState.lasso.push([x, y]);
      if (mapState.lasso.length > 3) state.dragged = true;
    } else {
      state.box[2] = x;
      state.box[3] = y;
      if (Math.abs(x - state.box[0]) + Math.abs(y - state.box[1]) > 6) state.dragged = true;
    }
    drawOverlay();
  });
  window.addEventListener("mouseup", () => {
    if (!state.box && !mapState.lasso) return;
    const rect = canvas.getBoundingClientRect();
    const toMap = ([x, y]) => fromCanvas(x, y, rect.width, rect.height).map((v) => +v.toFixed(5));
    let geometry = null, inside = null;
    if (state.dragged && state.box) {
      const [x0, y0, x1, y1] = state.box;
      const [a, b] = [toMap([x0, y0]), toMap([x1, y1])];
      const [lx, hx, ly, hy] = [Math.min(a[0], b[0]), Math.max(a[0], b[0]), Math.min(a[1], b[1]), Math.max(a[1], b[1])];
      geometry = { box: `${lx},${ly},${hx},${hy}` };
      inside = (p) => p.x >= lx && p.x <= hx && p.y >= ly && p.y <= hy;
    } else if (state.dragged && mapState.lasso) {
      const poly = mapState.lasso.slice(0, 1000).map(toMap);
      geometry = { polygon: poly.map(([x, y]) => `${x},${y}`).join(";") };
      inside = (p) => inPolygon(p.x, p.y, poly);
    }
    state.box = null;
    mapState.lasso = null;
    if (!geometry) { drawOverlay(); return; }
    geometry.shown = state.points.filter(inside).map((p) => p.id);
    setSelection(geometry);
  });
}

function inPolygon(x, y, poly) {
  let odd = false;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const [xi, yi] = poly[i], [xj, yj] = poly[j];
    if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) odd = !odd;
  }
  return odd;
}

// The nearest point within 8 px: the 3 x 3 grid buckets around the mouse, not every point.
// The canvas's position is read once per draw and scroll (reading it on every move would
// force a layout of the page after each tooltip move).
function nearest(e) {
  const g = mapState.grid;
  if (!g) return null;
  const rect = mapState.rect || (mapState.rect = $("#map").getBoundingClientRect());
  const mx = e.clientX - rect.left, my = e.clientY - rect.top;
  const cx = Math.floor(mx / CELL), cy = Math.floor(my / CELL);
  let best = null, bestD = 64;
  for (let dx = -1; dx <= 1; dx++) {
    for (let dy = -1; dy <= 1; dy++) {
      for (const i of g.cells.get((cx + dx) * 65536 + (cy + dy)) || []) {
        const d = (g.xy[2 * i] - mx) ** 2 + (g.xy[2 * i + 1] - my) ** 2;
        if (d < bestD) { best = state.points[i]; bestD = d; }
      }
    }
  }
  return best;
}

function hoverMap(e) {
  const p = nearest(e);
  const tip = $("#map-tip");
  if (p !== state.hover) { state.hover = p; drawOverlay(); }
  if (!p) { tip.hidden = true; return; }
  if (tip.dataset.id !== p.id) {
    tip.dataset.id = p.id;
    const img = el("img", { src: itemUrl(p.id) + "/thumbnail?size=128", alt: "" });
    tip.replaceChildren(img, el("span", {}, `${p.label || "?"} · ${p.id}`));
    tip.querySelector("span").style.borderColor = colourOf(p.label);
  }
  const rect = mapState.rect; // set by nearest(): no layout read per move
  tip.style.left = `${e.clientX - rect.left + 12}px`;
  tip.style.top = `${e.clientY - rect.top + 12}px`;
  tip.hidden = false;
  $("#map").style.cursor = "pointer";
}
