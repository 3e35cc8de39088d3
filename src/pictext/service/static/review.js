// Review queue: the collection ordered by audit score, with the write actions of the API.
// Keys (when no text box has focus): a = accept the suggested label, r = reviewed,
// i = ignore, u = undo, j / k = next / previous item. The token stays in this tab
// (sessionStorage) and travels only in the Authorization header, never a cookie.
(() => {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const state = { queue: [], pos: 0, current: null };
  const enc = (id) => id.split("/").map(encodeURIComponent).join("/");

  function el(tag, attrs = {}, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === "text") e.textContent = v; else e.setAttribute(k, v);
    }
    kids.forEach((c) => e.append(c));
    return e;
  }

  function token() { return $("rv-token").value.trim(); }

  async function write(method, path, body, form) {
    const headers = { Authorization: `Bearer ${token()}`, "X-Pictext-User": $("rv-user").value || "page" };
    const opts = { method, headers };
    if (form) opts.body = form;
    else if (body !== undefined) { headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(body); }
    const r = await fetch(path, opts);
    const data = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error((data.error && data.error.message) || `HTTP ${r.status}`);
    return data;
  }

  function note(text) { $("rv-status").textContent = text; }

  async function counter() {
    const c = await (await fetch("/collection")).json();
    $("rv-counter").textContent = `reviewed ${c.reviewed} of ${c.items}`;
  }

  async function loadQueue() {
    const form = new FormData();
    form.append("sort", "error"); form.append("per_page", "200");
    const r = await fetch("/browse", { method: "POST", body: form });
    if (!r.ok) { note("no audit in this bundle: the queue follows the dataset order"); form.set("sort", "dataset"); }
    const page = r.ok ? await r.json() : await (await fetch("/browse", { method: "POST", body: form })).json();
    state.queue = page.items;
    renderGrid();
    await counter();
    if (state.queue.length) await show(Math.min(state.pos, state.queue.length - 1));
  }

  function renderGrid() {
    const grid = $("rv-grid");
    grid.replaceChildren();
    state.queue.forEach((it, n) => {
      const f = it.flags || {};
      const card = el("button", { type: "button", class: "rv-card" + (n === state.pos ? " rv-on" : ""), "data-id": it.id },
        el("img", { src: it.thumbnail, alt: "", loading: "lazy" }),
        el("span", { class: "rv-label", text: it.label || "—" }),
        el("small", { class: "muted", text: f.predicted && f.predicted !== it.label ? `→ ${f.predicted}` : "" }));
      if (it.reviewed) card.classList.add("rv-done");
      card.addEventListener("click", () => show(n));
      grid.append(card);
    });
  }

  async function show(n) {
    state.pos = Math.max(0, Math.min(n, state.queue.length - 1));
    const id = state.queue[state.pos].id;
    const item = await (await fetch(`/items/${enc(id)}?neighbours=0`)).json();
    state.current = item;
    const cur = item.curation || {};
    state.queue[state.pos].label = item.label;
    state.queue[state.pos].reviewed = !!cur.reviewed;
    renderGrid();
    $("rv-img").src = item.thumbnail + "?size=256";
    $("rv-id").textContent = id;
    $("rv-label").value = item.label || "";
    $("rv-tags").value = (cur.tags || []).join(", ");
    const f = item.audit || {};
    $("rv-suggest").textContent = f.predicted ? `${f.predicted} (p=${f.predicted_p})` : "—";
    $("rv-state").textContent = [cur.reviewed ? "reviewed" : "", cur.ignored ? "ignored" : ""].filter(Boolean).join(", ") || "not reviewed";
    renderHistory($("rv-history"), cur.history || []);
  }

  function renderHistory(list, history) {
    list.replaceChildren();
    if (!history.length) { list.append(el("li", { class: "muted", text: "no edits yet" })); return; }
    history.slice().reverse().forEach((h) => list.append(el("li", {
      text: `${h.at.replace("T", " ").slice(0, 19)} · ${h.by}: ${h.field} ${JSON.stringify(h.old)} → ${JSON.stringify(h.new)}${h.reason ? ` (${h.reason})` : ""}`,
    })));
  }

  async function act(fn, done) {
    if (!state.current) return;
    try { await fn(state.current.id); note(done); await refresh(); } catch (e) { note(e.message); }
  }

  async function refresh() { await show(state.pos); await counter(); }

  const version = () => (state.current.curation || {}).version;
  const actions = {
    accept: () => act(async (id) => {
      const p = (state.current.audit || {}).predicted;
      if (!p) throw new Error("no suggested label for this item");
      await write("POST", "/items/accept", { [id]: p });
    }, "suggestion accepted"),
    reviewed: () => act((id) => write("PATCH", `/items/${enc(id)}`, { reviewed: true, version: version() }), "marked reviewed"),
    ignore: () => act((id) => write("PATCH", `/items/${enc(id)}`, { ignored: true, version: version() }), "ignored"),
    undo: () => act((id) => write("POST", `/items/${enc(id)}/undo`), "last edit undone"),
    relabel: () => act((id) => write("PATCH", `/items/${enc(id)}`, {
      label: $("rv-label").value, tags: $("rv-tags").value.split(/[;,]/).map((t) => t.trim()).filter(Boolean), version: version(),
    }), "saved"),
    remove: () => act((id) => write("DELETE", `/items/${enc(id)}`), "removed").then(loadQueue),
  };

  function build() {
    const host = $("review");
    if (!host) return;
    host.append(
      el("h2", { text: "Review queue " }, el("small", { id: "rv-counter", class: "muted" })),
      el("p", { class: "muted", text: "Most suspect labels first. Keys: a accept suggestion · r reviewed · i ignore · u undo · j/k next/previous." }),
      el("div", { class: "row controls" },
        el("label", { text: "Token " }, el("input", { id: "rv-token", type: "password", autocomplete: "off", placeholder: "pictext serve --token" })),
        el("label", { text: "Your name " }, el("input", { id: "rv-user", type: "text", placeholder: "recorded in the history" }))),
      el("div", { id: "rv-grid", class: "rv-grid" }),
      el("div", { class: "rv-item" },
        el("img", { id: "rv-img", alt: "" }),
        el("div", {},
          el("p", { id: "rv-id", class: "mono muted" }),
          el("p", { text: "Suggested: " }, el("b", { id: "rv-suggest" })),
          el("p", { id: "rv-state", class: "muted" }),
          el("label", { text: "Label " }, el("input", { id: "rv-label", type: "text" })),
          el("label", { text: "Tags " }, el("input", { id: "rv-tags", type: "text", placeholder: "comma, separated" })),
          el("div", { class: "rv-buttons" },
            ...[["accept", "Accept suggestion (a)"], ["reviewed", "Reviewed (r)"], ["ignore", "Ignore (i)"],
              ["undo", "Undo (u)"], ["relabel", "Save label and tags"], ["remove", "Remove"]].map(([k, t]) => {
              const b = el("button", { type: "button", id: `rv-${k}`, text: t });
              b.addEventListener("click", actions[k]);
              return b;
            })),
          el("p", { id: "rv-status", class: "muted", role: "status" }),
          el("h3", { text: "History" }),
          el("ol", { id: "rv-history", class: "rv-history" }))),
      el("h3", { text: "Add an image to the collection" }),
      el("form", { id: "rv-add", class: "row controls" },
        el("input", { id: "rv-add-file", type: "file", accept: "image/*" }),
        el("input", { id: "rv-add-label", type: "text", placeholder: "label" }),
        el("button", { type: "submit", text: "Add" })));
    $("rv-token").value = sessionStorage.getItem("pictext-token") || "";
    $("rv-token").addEventListener("change", () => sessionStorage.setItem("pictext-token", token()));
    $("rv-add").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const file = $("rv-add-file").files[0];
      if (!file) return note("choose an image first");
      const form = new FormData();
      form.append("image", file); form.append("label", $("rv-add-label").value);
      try { const it = await write("POST", "/items", undefined, form); note(`added ${it.id}`); await counter(); } catch (e) { note(e.message); }
    });
    document.addEventListener("keydown", (ev) => {
      if (ev.target.closest && ev.target.closest("input, textarea, select") || ev.ctrlKey || ev.metaKey || ev.altKey) return;
      const key = { a: "accept", r: "reviewed", i: "ignore", u: "undo" }[ev.key];
      if (key) { ev.preventDefault(); actions[key](); }
      else if (ev.key === "j") show(state.pos + 1);
      else if (ev.key === "k") show(state.pos - 1);
    });
    loadQueue().catch((e) => note(e.message));
  }

  // The item view of app.js: add the item's edit history under its audit flags.
  function historyInItemView() {
    const idNode = $("item-id");
    if (!idNode) return;
    const list = el("ol", { id: "item-history", class: "rv-history" });
    $("item-flags").after(el("h3", { text: "History" }), list);
    new MutationObserver(async () => {
      const id = idNode.textContent.trim();
      if (!id) return;
      const item = await (await fetch(`/items/${enc(id)}?neighbours=0`)).json();
      renderHistory(list, (item.curation || {}).history || []);
    }).observe(idNode, { childList: true, characterData: true, subtree: true });
  }

  build();
  historyInItemView();
})();
