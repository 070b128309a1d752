/* The operator console (issue 23): a page per hash (#/dashboard, #/messages/<id>, …) over the
   public /v1 API. The API key is kept in sessionStorage only and sent as a bearer header; no
   cookie is involved, so a form posted from another origin carries no credential.
   Everything the API returns is put in the page with textContent or text nodes, never as HTML. */
"use strict";
(function () {
  const KEY = "smsengine.console.key";
  const LANG = "smsengine.console.lang";
  const WORDS = window.CONSOLE_I18N;
  const FINAL_BAD = ["undeliverable", "expired", "rejected", "failed", "unknown"];
  const state = { scopes: [], name: "", page: "", timers: [], templates: [], csv: null,
                  lang: "en", searchCursor: null, optoutCursor: null };

  // --- small helpers --------------------------------------------------------------------------
  const $ = (id) => document.getElementById(id);

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (k === "class") node.className = v;
      else if (k === "data") Object.assign(node.dataset, v);
      else if (k.startsWith("on")) throw new Error("no inline handlers");
      else node.setAttribute(k, v);
    }
    for (const c of children) {
      if (c === null || c === undefined) continue;
      node.appendChild(typeof c === "string" || typeof c === "number"
        ? document.createTextNode(String(c)) : c);
    }
    return node;
  }

  function t(key, vars) {
    let s = (WORDS[state.lang] && WORDS[state.lang][key]) || WORDS.en[key] || key;
    for (const [k, v] of Object.entries(vars || {})) s = s.split("{" + k + "}").join(String(v));
    return s;
  }

  function when(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    return d.toLocaleString(state.lang === "zh" ? "zh-CN" : "en-GB", { hour12: false });
  }

  function stateBadge(name) {
    return el("span", { class: "state " + name, data: { state: name } }, t("state." + name));
  }

  function has(scope) {
    return state.scopes.includes("admin") || state.scopes.includes(scope);
  }

  class ApiError extends Error {
    constructor(status, body) {
      const detail = (body && (body.detail || body.title)) || "";
      super(t("error.http", { status: status, detail: detail }));
      this.status = status;
      this.body = body;
    }
  }

  async function api(method, path, body) {
    const headers = { "Authorization": "Bearer " + (sessionStorage.getItem(KEY) || "") };
    let payload;
    if (body instanceof FormData) payload = body;
    else if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      payload = JSON.stringify(body);
    }
    const resp = await fetch(path, { method: method, headers: headers, body: payload,
                                     credentials: "omit", cache: "no-store" });
    let data = null;
    const ctype = resp.headers.get("Content-Type") || "";
    if (ctype.includes("json")) data = await resp.json();
    if (resp.status === 401 && path !== "/v1/me") { logout(); throw new ApiError(401, data); }
    if (!resp.ok) throw new ApiError(resp.status, data);
    return data;
  }

  function flash(message) {
    const box = $("flash");
    box.textContent = message;
    box.hidden = !message;
  }

  function show(node, message, ok) {
    node.textContent = message;
    node.className = ok ? "ok" : "error";
    node.hidden = !message;
  }

  function every(ms, fn) {
    fn();
    state.timers.push(setInterval(fn, ms));
  }

  function stopTimers() {
    for (const id of state.timers) clearInterval(id);
    state.timers = [];
  }

  function debounce(fn, ms) {
    let id = null;
    return function () { clearTimeout(id); id = setTimeout(fn, ms); };
  }

  function isoOf(localValue) {
    return localValue ? new Date(localValue).toISOString() : "";
  }

  function variablesOf(text) {
    const names = [];
    const re = /\$(\$|\{([A-Za-z_][A-Za-z0-9_]*)\})/g;
    let m;
    while ((m = re.exec(text)) !== null) if (m[2] && !names.includes(m[2])) names.push(m[2]);
    return names;
  }

  // --- language --------------------------------------------------------------------------------
  function chooseLanguage() {
    const chosen = sessionStorage.getItem(LANG);
    if (chosen === "zh" || chosen === "en") return chosen;
    const asked = (navigator.languages && navigator.languages[0]) || navigator.language || "en";
    return /^zh\b/i.test(asked) ? "zh" : "en";
  }

  function applyLanguage() {
    document.documentElement.lang = state.lang === "zh" ? "zh-CN" : "en";
    document.title = state.lang === "zh" ? "smsengine 控制台" : "smsengine console";
    for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
    $("lang-toggle").textContent = state.lang === "zh" ? "English" : "中文";
  }

  // --- login and routing ------------------------------------------------------------------------
  async function login(event) {
    event.preventDefault();
    const key = $("login-key").value.trim();
    const error = $("login-error");
    sessionStorage.setItem(KEY, key);
    try {
      const me = await api("GET", "/v1/me");
      state.scopes = me.scopes;
      state.name = me.name;
      $("login-key").value = "";
      show(error, "");
      const target = "#/" + firstPage();
      if (location.hash === target) route();
      else location.hash = target;  // (hashchange routes)
    } catch (e) {
      sessionStorage.removeItem(KEY);
      show(error, e.status === 401 ? t("login.bad") : t("login.failed") + e.message);
    }
  }

  function logout() {
    sessionStorage.removeItem(KEY);
    resetDash();
    state.scopes = [];
    stopTimers();
    if (location.hash !== "#/login") location.hash = "#/login";
    route();
  }

  function firstPage() {
    for (const a of document.querySelectorAll("#nav a")) if (has(a.dataset.scope)) return a.dataset.page;
    return "login";
  }

  async function restore() {
    if (!sessionStorage.getItem(KEY)) return false;
    try {
      const me = await api("GET", "/v1/me");
      state.scopes = me.scopes;
      state.name = me.name;
      return true;
    } catch (e) {
      // A key refused is forgotten; a daemon out of reach (restarting, a 5xx) is said, and
      // the key kept for the next try (a reload).
      if (e.status === 401) sessionStorage.removeItem(KEY);
      else show($("login-error"), t("login.failed") + e.message);
      return false;
    }
  }

  const PAGES = { dashboard: showDashboard, messages: showMessages, send: showSend,
                  templates: showTemplates, campaigns: showCampaigns, optouts: showOptouts };

  function route() {
    stopTimers();
    flash("");
    const parts = location.hash.replace(/^#\/?/, "").split("/");
    let page = parts[0] || "dashboard";
    const loggedIn = !!sessionStorage.getItem(KEY) && state.scopes.length > 0;
    let refused = "";
    if (!loggedIn) page = "login";
    else if (!Object.hasOwn(PAGES, page) || page === "login") page = firstPage();  // (own keys only)
    else {
      const wanted = document.querySelector('#nav a[data-page="' + page + '"]');
      if (!has(wanted.dataset.scope)) {
        refused = t("scope.missing", { scope: wanted.dataset.scope });
        page = firstPage();
      }
    }
    state.page = page;
    for (const section of document.querySelectorAll("section.page")) section.hidden = section.id !== "page-" + page;
    $("top").hidden = !loggedIn;
    if (!loggedIn) { $("login-key").focus(); return; }
    $("who").textContent = state.name + " · " + state.scopes.join(", ");
    for (const a of document.querySelectorAll("#nav a")) {
      a.hidden = !has(a.dataset.scope);
      a.classList.toggle("active", a.dataset.page === page);
    }
    for (const form of document.querySelectorAll("form[data-scope]")) form.hidden = !has(form.dataset.scope);
    if (refused) flash(refused);
    PAGES[page](refused ? [] : parts.slice(1).map(decoded));
  }

  function decoded(part) {  // (a hash typed or linked with a stray % is taken as it is)
    try { return decodeURIComponent(part); } catch (e) { return part; }
  }

  // --- dashboard -------------------------------------------------------------------------------
  // The dashboard's figures: final states per minute from the event feed (message.*), and
  // accepted / submitted from the overview's counters (their change between two polls).
  let dash = null;
  function resetDash() {
    dash = { cursor: null, minutes: new Map(), recent: [], samples: [], busy: false };
  }
  resetDash();

  function bucket(minute) {
    let b = dash.minutes.get(minute);
    if (!b) { b = { submitted: 0, delivered: 0, failed: 0 }; dash.minutes.set(minute, b); }
    return b;
  }

  function countEvents(events) {
    const now = Date.now();
    for (const e of events) {
      if (!e.type.startsWith("message.")) continue;
      const name = e.type.slice(8);
      const at = Date.parse(e.timestamp);
      if (now - at > 3600e3) continue;
      const b = bucket(Math.floor(at / 60e3));
      if (name === "submitted") continue;  // (counted from the overview)
      if (name === "delivered") b.delivered += 1;
      else if (FINAL_BAD.includes(name)) b.failed += 1;
      dash.recent.push([at, name]);
    }
  }

  async function readEvents() {
    for (let page = 0; page < 10; page++) {
      const got = await api("GET", "/v1/events?after=" + dash.cursor + "&limit=1000&types=message.*");
      countEvents(got.events);
      const moved = got.next_cursor !== String(dash.cursor);
      dash.cursor = Number(got.next_cursor);
      if (got.events.length < 1000 || !moved) break;
    }
  }

  async function showDashboard() {
    let lastStats = 0;
    every(2000, async function () {
      if (dash.busy) return;  // (a slow poll is not overtaken by the next)
      dash.busy = true;
      try {
        const ov = await api("GET", "/v1/overview");
        if (dash.cursor === null) dash.cursor = Math.max(0, ov.events - 5000);
        await readEvents();
        const now = Date.now();
        const submitted = Object.values(ov.engine.channels || {}).reduce((n, c) => n + c.submitted, 0);
        const previous = dash.samples[dash.samples.length - 1];
        if (previous) bucket(Math.floor(now / 60e3)).submitted += Math.max(0, submitted - previous[2]);
        dash.samples.push([now, ov.counters.accepted || 0, submitted]);
        while (dash.samples.length > 2 && now - dash.samples[1][0] >= 60e3) dash.samples.shift();
        dash.recent = dash.recent.filter((r) => now - r[0] <= 60e3);
        for (const m of dash.minutes.keys()) if (m < Math.floor(now / 60e3) - 60) dash.minutes.delete(m);
        renderOverview(ov);
        if (now - lastStats > 10e3) { lastStats = now; await renderStats(); }
        renderChart();
        $("dash-updated").textContent = when(new Date().toISOString());
        if (dash.failed) flash("");
        dash.failed = false;
      } catch (e) { flash(e.message); dash.failed = true; }
      finally { dash.busy = false; }
    });
  }

  function renderOverview(ov) {
    const counts = {};
    for (const [, name] of dash.recent) counts[name] = (counts[name] || 0) + 1;
    const first = dash.samples[0], last = dash.samples[dash.samples.length - 1];
    const body = $("dash-states").tBodies[0];
    body.replaceChildren(el("tr", { data: { state: "accepted" } }, el("td", {}, t("dash.accepted")),
                            el("td", {}, String(last[1] - first[1]))),
                         el("tr", { data: { state: "submitted" } }, el("td", {}, stateBadge("submitted")),
                            el("td", {}, String(last[2] - first[2]))));
    for (const name of ["delivered", "undeliverable", "expired", "rejected", "failed", "unknown", "cancelled"]) {
      body.appendChild(el("tr", { data: { state: name } }, el("td", {}, stateBadge(name)),
                          el("td", {}, String(counts[name] || 0))));
    }
    const channels = $("dash-channels").tBodies[0];
    channels.replaceChildren();
    for (const [name, c] of Object.entries(ov.engine.channels || {})) {
      channels.appendChild(el("tr", { data: { channel: name } }, el("td", {}, name),
        el("td", {}, c.bound + " / " + c.binds), el("td", {}, c.rate === null ? "–" : c.rate + "/s"),
        el("td", {}, String(c.queued + (ov.backlog[name] || 0))), el("td", {}, String(c.in_flight)),
        el("td", {}, String(c.awaiting_receipts))));
    }
    const hooks = Object.entries(ov.webhooks || {});
    $("dash-webhooks").textContent = hooks.length
      ? String(hooks.reduce((n, [, h]) => n + h.backlog, 0)) : t("dash.none");
  }

  async function renderStats() {
    const midnight = new Date();
    midnight.setHours(0, 0, 0, 0);
    const page = await api("GET", "/v1/stats?group_by=kind&from=" + encodeURIComponent(midnight.toISOString()));
    let delivered = 0, verdicts = 0, submitted = 0, p95 = null;
    for (const row of page.rows) {
      delivered += row.delivered;
      verdicts += row.delivered + row.undeliverable + row.expired + row.rejected;
      submitted += row.submitted;
      if (row.kind === "otp") p95 = row.p95;
    }
    $("dash-rate").textContent = verdicts ? (100 * delivered / verdicts).toFixed(1) + " %" : "–";
    $("dash-p95").textContent = p95 === null ? "–" : p95.toFixed(2) + " s";
    $("dash-today").textContent = String(submitted);
  }

  function svg(tag, attrs, text) {
    const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function renderChart() {
    const chart = $("dash-chart");
    const W = 720, H = 200, L = 40, B = 20, T = 10;
    const now = Math.floor(Date.now() / 60e3);
    const series = { submitted: "#1f6feb", delivered: "#1a7f37", failed: "#c0392b" };
    let max = 2;
    for (let m = now - 59; m <= now; m++) {
      const b = dash.minutes.get(m);
      if (b) max = Math.max(max, b.submitted, b.delivered, b.failed);
    }
    const step = Math.pow(10, Math.floor(Math.log10(max)));
    max = Math.ceil(max / step) * step;
    if (max % 2) max += step;  // (so that the middle line is a whole number)
    chart.replaceChildren();
    const x = (i) => L + (i * (W - L - 10)) / 59;
    const y = (v) => T + (H - T - B) * (1 - v / max);
    for (const frac of [0, 0.5, 1]) {
      chart.appendChild(svg("line", { x1: L, x2: W - 10, y1: y(max * frac), y2: y(max * frac), stroke: "#d8dee8" }));
      chart.appendChild(svg("text", { x: L - 6, y: y(max * frac) + 4, "text-anchor": "end", "font-size": 11, fill: "#5b6778" },
                            String(Math.round(max * frac))));
    }
    const zh = state.lang === "zh";
    for (const [i, label] of [[0, zh ? "60 分钟前" : "-60 min"], [30, zh ? "30 分钟前" : "-30 min"], [59, zh ? "现在" : "now"]]) {
      chart.appendChild(svg("text", { x: x(i), y: H - 4, "text-anchor": i === 0 ? "start" : i === 59 ? "end" : "middle",
                                      "font-size": 11, fill: "#5b6778" }, label));
    }
    for (const [name, colour] of Object.entries(series)) {
      const points = [];
      for (let i = 0; i < 60; i++) {
        const b = dash.minutes.get(now - 59 + i);
        points.push(x(i).toFixed(1) + "," + y(b ? b[name] : 0).toFixed(1));
      }
      chart.appendChild(svg("polyline", { points: points.join(" "), fill: "none", stroke: colour, "stroke-width": 2,
                                          "data-series": name }));
    }
    const legend = $("dash-legend");
    legend.replaceChildren();
    for (const name of Object.keys(series)) {
      legend.appendChild(el("span", {}, el("i", { class: "sw-" + name }), t("state." + name)));
    }
    legend.appendChild(el("span", { class: "hint" }, t("dash.since")));
  }

  // --- messages --------------------------------------------------------------------------------
  function showMessages(args) {
    $("message-detail").hidden = true;
    if (args[0]) openMessage(args[0]);
  }

  async function search(event, more) {
    if (event) event.preventDefault();
    const q = new URLSearchParams();
    const to = $("search-to").value.trim(), outId = $("search-outid").value.trim();
    if (to) q.set("to", to);
    if (outId) q.set("out_id", outId);
    if ($("search-since").value) q.set("since", isoOf($("search-since").value));
    if ($("search-until").value) q.set("until", isoOf($("search-until").value));
    q.set("limit", "50");
    if (more && state.searchCursor) q.set("cursor", state.searchCursor);
    const body = $("search-results").tBodies[0];
    try {
      const page = await api("GET", "/v1/messages?" + q.toString());
      if (!more) body.replaceChildren();
      for (const m of page.messages) {
        const open = el("a", { href: "#/messages/" + encodeURIComponent(m.id) }, t("open"));
        body.appendChild(el("tr", { data: { id: m.id } }, el("td", {}, when(m.timestamps.accepted)),
          el("td", {}, m.to), el("td", {}, stateBadge(m.state)), el("td", { class: "text" }, m.text),
          el("td", {}, String(m.parts_count)), el("td", {}, open)));
      }
      if (!more && page.messages.length === 0) {
        body.appendChild(el("tr", {}, el("td", { colspan: "6", class: "hint" }, t("search.none"))));
      }
      state.searchCursor = page.next_cursor;
      $("search-more").hidden = !page.next_cursor;
      flash("");
    } catch (e) { flash(e.message); }
  }

  function why(m) {
    if (m.reason && m.reason.stat) {
      const stat = m.reason.stat.toUpperCase();
      const words = WORDS[state.lang]["why." + stat] ? t("why." + stat) : t("why.other", { stat: stat });
      return words + (m.reason.err ? " · err " + m.reason.err : "");
    }
    if (m.state === "unknown") return t("why.unknown");
    if (m.state === "cancelled") return t("why.cancelled");
    if (m.error) return t("why.failed") + ": " + m.error.detail + " (" + m.error.code + ")";
    if (m.state === "failed") return t("why.failed");
    return "";
  }

  async function openMessage(id) {
    try {
      const m = await api("GET", "/v1/messages/" + encodeURIComponent(id));
      const box = $("message-detail");
      const fields = $("detail-fields");
      fields.replaceChildren();
      const rows = [["detail.id", m.id], ["detail.state", stateBadge(m.state)], ["col.to", m.to],
                    ["detail.from", m.from || ""], ["detail.kind", m.kind], ["detail.channel", m.channel || ""],
                    ["detail.outid", m.out_id || ""], ["detail.parts_count", String(m.parts_count)],
                    ["detail.text", m.text]];
      for (const [label, value] of rows) {
        fields.appendChild(el("dt", {}, t(label)));
        fields.appendChild(el("dd", { data: { field: label.split(".")[1] } }, value));
      }
      const words = why(m);
      show($("detail-error"), words);
      const timeline = $("detail-timeline");
      timeline.replaceChildren();
      const ts = m.timestamps;
      for (const step of ["accepted", "scheduled_for", "sending", "submitted"]) {
        if (ts[step]) timeline.appendChild(el("li", {}, when(ts[step]) + " — " + t("tl." + step)));
      }
      if (ts.done) {
        timeline.appendChild(el("li", { class: m.state === "delivered" ? "good" : "bad" },
                                when(ts.done) + " — " + t("tl.done", { state: t("state." + m.state) })));
      }
      const parts = $("detail-parts").tBodies[0];
      parts.replaceChildren();
      for (const p of m.parts) {
        parts.appendChild(el("tr", {}, el("td", {}, String(p.index + 1)), el("td", {}, p.smsc_id || "–"),
          el("td", {}, stateBadge(p.state)), el("td", {}, when(p.submitted_at)), el("td", {}, when(p.done_at))));
      }
      box.hidden = false;
      box.dataset.id = m.id;
      box.dataset.state = m.state;
      if (!m.final && state.page === "messages") {
        state.timers.push(setTimeout(() => { if (location.hash.endsWith(encodeURIComponent(id))) openMessage(id); }, 1500));
      }
    } catch (e) { flash(e.message); }
  }

  // --- send ------------------------------------------------------------------------------------
  async function loadTemplates() {
    const page = await api("GET", "/v1/templates");
    state.templates = page.templates;
    return page.templates;
  }

  function templateVars(tpl) {
    const names = Object.keys(tpl.variables || {});
    for (const n of variablesOf(tpl.text)) if (!names.includes(n)) names.push(n);
    return names;
  }

  function fillTemplateSelect(select, templates) {
    const chosen = select.value;
    select.replaceChildren();
    for (const tpl of templates) select.appendChild(el("option", { value: tpl.name }, tpl.name + " (" + tpl.kind + ")"));
    if (templates.some((x) => x.name === chosen)) select.value = chosen;
  }

  async function showSend() {
    try {
      fillTemplateSelect($("send-template"), await loadTemplates());
      renderSendParams();
    } catch (e) { flash(e.message); }
    sendMode();
  }

  function sendMode() {
    const mode = document.querySelector('input[name="send-mode"]:checked').value;
    $("send-text-box").hidden = mode !== "text";
    $("send-template-box").hidden = mode !== "template";
    previewSend();
  }

  function renderSendParams() {
    const tpl = state.templates.find((x) => x.name === $("send-template").value);
    const box = $("send-params");
    box.replaceChildren();
    if (!tpl) return;
    box.appendChild(el("p", { class: "hint" }, tpl.text));
    for (const name of templateVars(tpl)) {
      const input = el("input", { "data-param": name });
      input.addEventListener("input", previewSend);
      box.appendChild(el("label", {}, el("span", {}, "${" + name + "}"), input));
    }
  }

  function sendBody() {
    const mode = document.querySelector('input[name="send-mode"]:checked').value;
    if (mode === "text") return { text: $("send-text").value, kind: $("send-kind").value };
    const params = {};
    for (const input of $("send-params").querySelectorAll("input[data-param]")) params[input.dataset.param] = input.value;
    return { template: $("send-template").value, params: params };
  }

  async function segments(body, textNode, metaNode, errorNode) {
    if (!body.text && !body.template) {
      textNode.textContent = "";
      metaNode.textContent = t("preview.empty");
      show(errorNode, "");
      return null;
    }
    try {
      const seg = await api("POST", "/v1/segments", body);
      textNode.textContent = seg.text;
      metaNode.textContent = t("preview.meta", { parts: seg.parts, encoding: seg.encoding, units: seg.units, left: seg.units_left });
      metaNode.dataset.parts = String(seg.parts);
      metaNode.dataset.encoding = seg.encoding;
      show(errorNode, "");
      return seg;
    } catch (e) {
      show(errorNode, e.message);
      return null;
    }
  }

  const previewSend = debounce(function () {
    segments(sendBody(), $("preview-text"), $("preview-meta"), $("preview-error"));
  }, 250);

  async function send(event) {
    event.preventDefault();
    const body = Object.assign({ to: $("send-to").value.trim() }, sendBody());
    if ($("send-outid").value.trim()) body.out_id = $("send-outid").value.trim();
    const result = $("send-result");
    try {
      const got = await api("POST", "/v1/messages", body);
      result.replaceChildren(t("send.accepted", { id: got.id, parts: got.parts }),
                             el("a", { href: "#/messages/" + encodeURIComponent(got.id), id: "send-open" }, t("send.open")));
      result.className = "ok";
      result.dataset.id = got.id;
    } catch (e) { show(result, e.message); }
  }

  // --- templates -------------------------------------------------------------------------------
  async function showTemplates() {
    try {
      const templates = await loadTemplates();
      const body = $("templates-list").tBodies[0];
      body.replaceChildren();
      for (const tpl of templates) {
        const edit = el("button", { type: "button", class: "small" }, t("tpl.edit_btn"));
        edit.addEventListener("click", () => editTemplate(tpl));
        edit.hidden = !has("admin");
        body.appendChild(el("tr", { data: { name: tpl.name } }, el("td", {}, tpl.name), el("td", {}, tpl.kind),
                            el("td", { class: "text" }, tpl.text), el("td", {}, String(tpl.version)), el("td", {}, edit)));
      }
    } catch (e) { flash(e.message); }
    renderTemplateVars();
  }

  function editTemplate(tpl) {
    const form = $("template-form");
    form.dataset.editing = tpl ? tpl.name : "";
    $("tpl-name").value = tpl ? tpl.name : "";
    $("tpl-name").disabled = !!tpl;
    $("tpl-kind").value = tpl ? tpl.kind : "notification";
    $("tpl-text").value = tpl ? tpl.text : "";
    $("tpl-sign").value = tpl ? tpl.sign_name || "" : "";
    $("tpl-maxparts").value = tpl && tpl.max_parts ? String(tpl.max_parts) : "";
    $("template-form-title").textContent = tpl ? t("tpl.edit", { name: tpl.name, v: tpl.version + 1 }) : t("tpl.new");
    show($("tpl-result"), "");
    renderTemplateVars();
    if (tpl) $("tpl-text").focus();
  }

  function renderTemplateVars() {
    const box = $("tpl-vars");
    const kept = {};
    for (const input of box.querySelectorAll("input[data-sample]")) kept[input.dataset.sample] = input.value;
    box.replaceChildren();
    for (const name of variablesOf($("tpl-text").value)) {
      const input = el("input", { "data-sample": name });
      input.value = kept[name] || (name === "code" ? "123456" : name);
      input.addEventListener("input", previewTemplate);
      box.appendChild(el("label", {}, el("span", {}, t("tpl.sample", { name: name })), input));
    }
    previewTemplate();
  }

  const previewTemplate = debounce(function () {
    const samples = {};
    for (const input of $("tpl-vars").querySelectorAll("input[data-sample]")) samples[input.dataset.sample] = input.value;
    const text = $("tpl-text").value.replace(/\$(\$|\{([A-Za-z_][A-Za-z0-9_]*)\})/g,
      (all, d, name) => (d === "$" ? "$" : (samples[name] !== undefined ? samples[name] : all)));
    const sign = $("tpl-sign").value.trim();
    segments(text ? { text: (sign ? "【" + sign + "】" : "") + text, kind: $("tpl-kind").value } : {},
             $("tpl-preview-text"), $("tpl-preview-meta"), $("tpl-preview-error"));
  }, 250);

  async function saveTemplate(event) {
    event.preventDefault();
    const editing = $("template-form").dataset.editing;
    const body = { name: editing || $("tpl-name").value.trim(), kind: $("tpl-kind").value, text: $("tpl-text").value };
    if ($("tpl-sign").value.trim()) body.sign_name = $("tpl-sign").value.trim();
    if ($("tpl-maxparts").value) body.max_parts = Number($("tpl-maxparts").value);
    try {
      const saved = editing ? await api("PUT", "/v1/templates/" + encodeURIComponent(editing), body)
        : await api("POST", "/v1/templates", body);
      await showTemplates();
      editTemplate(null);
      show($("tpl-result"), t("tpl.saved", { name: saved.name, v: saved.version }), true);
    } catch (e) { show($("tpl-result"), e.message); }
  }

  // --- campaigns -------------------------------------------------------------------------------
  function parseCsv(text) {
    const rows = [];
    let row = [], cell = "", quoted = false;
    for (let i = 0; i < text.length; i++) {
      const c = text[i];
      if (quoted) {
        if (c === '"') { if (text[i + 1] === '"') { cell += '"'; i++; } else quoted = false; }
        else cell += c;
      } else if (c === '"' && cell === "") quoted = true;
      else if (c === ",") { row.push(cell); cell = ""; }
      else if (c === "\n" || c === "\r") {
        if (c === "\r" && text[i + 1] === "\n") i++;
        row.push(cell); cell = "";
        if (row.length > 1 || row[0] !== "") rows.push(row);
        row = [];
      } else cell += c;
    }
    row.push(cell);
    if (row.length > 1 || row[0] !== "") rows.push(row);
    return rows;
  }

  function csvCell(value) {
    return /[",\r\n]/.test(value) ? '"' + value.replace(/"/g, '""') + '"' : value;
  }

  async function showCampaigns() {
    try { fillTemplateSelect($("cmp-template"), await loadTemplates()); } catch (e) { flash(e.message); }
    renderMapping();
    every(1000, refreshCampaigns);
  }

  function campaignFields() {
    const tpl = state.templates.find((x) => x.name === $("cmp-template").value);
    return ["to"].concat(tpl ? templateVars(tpl) : []);
  }

  async function readCsvFile() {
    const file = $("cmp-file").files[0];
    if (!file) { state.csv = null; renderMapping(); return; }
    const rows = parseCsv(await file.text());
    state.csv = { name: file.name, header: rows[0] || [], rows: rows.slice(1) };
    renderMapping();
  }

  function renderMapping() {
    $("cmp-estimate-box").hidden = true;
    const box = $("cmp-mapping");
    if (!state.csv) { box.hidden = true; return; }
    box.hidden = false;
    const body = $("cmp-map-rows");
    body.replaceChildren();
    const header = state.csv.header;
    for (const field of campaignFields()) {
      const select = el("select", { "data-field": field });
      select.appendChild(el("option", { value: "" }, "—"));
      header.forEach((name, i) => select.appendChild(el("option", { value: String(i) }, name)));
      const guess = header.findIndex((h) => h.trim().toLowerCase() === field.toLowerCase())
      const phone = header.findIndex((h) => /^(to|phone|mobile|number|msisdn|手机号|号码)$/i.test(h.trim()));
      const at = guess >= 0 ? guess : field === "to" ? phone : -1;
      if (at >= 0) select.value = String(at);
      select.addEventListener("change", () => { $("cmp-estimate-box").hidden = true; });
      body.appendChild(el("tr", {}, el("td", {}, field === "to" ? t("cmp.to") : "${" + field + "}"), el("td", {}, select)));
    }
    $("cmp-rows-info").textContent = t("cmp.rows", { rows: state.csv.rows.length, file: state.csv.name, cols: header.join(", ") });
  }

  function mappedRows() {
    if (!state.csv) throw new Error(t("cmp.nofile"));
    const map = [];
    for (const select of $("cmp-map-rows").querySelectorAll("select[data-field]")) {
      if (select.value === "") throw new Error(t("cmp.nomap", { name: select.dataset.field }));
      map.push([select.dataset.field, Number(select.value)]);
    }
    return { fields: map.map((m) => m[0]), rows: state.csv.rows.map((r) => map.map((m) => (r[m[1]] || "").trim())) };
  }

  async function estimate() {
    const result = $("cmp-result");
    show(result, "");
    delete result.dataset.id;
    try {
      const { fields, rows } = mappedRows();
      const template = $("cmp-template").value;
      const size = (r) => r.slice(1).reduce((n, v) => n + v.length, 0);
      const order = rows.map((r, i) => [size(r), i]).sort((a, b) => a[0] - b[0]);
      // A sample across the rows' lengths (shortest to longest); each row is counted with the
      // parts of the nearest sampled row at least as long: exact when the lengths agree.
      const picks = new Set();
      const samples = Math.min(order.length, 12);
      for (let k = 0; k < samples; k++) picks.add(Math.round((k * (order.length - 1)) / Math.max(1, samples - 1)));
      const sampled = [...picks].sort((a, b) => a - b);
      const partsAt = new Map();
      let first = null;
      for (const at of sampled) {
        const r = rows[order[at][1]];
        const params = {};
        fields.slice(1).forEach((f, j) => { params[f] = r[j + 1]; });
        const seg = await api("POST", "/v1/segments", { template: template, params: params });
        partsAt.set(at, seg);
        if (first === null) first = seg;
      }
      let parts = 0, j = 0;
      for (let i = 0; i < order.length; i++) {
        while (sampled[j] < i) j++;
        parts += partsAt.get(sampled[j]).parts;
      }
      const firstRow = rows[0];
      const params0 = {};
      fields.slice(1).forEach((f, k) => { params0[f] = firstRow[k + 1]; });
      const example = rows.length ? await api("POST", "/v1/segments", { template: template, params: params0 }) : first;
      const price = Number($("cmp-price").value || 0);
      const later = document.querySelector('input[name="cmp-when"]:checked').value === "later";
      const dl = $("cmp-estimate-fields");
      dl.replaceChildren();
      const perMessage = [...new Set([...partsAt.values()].map((s) => s.parts))].join(" – ");
      for (const [label, value, key] of [
        ["cmp.recipients", String(rows.length), "recipients"], ["cmp.parts", String(parts), "parts"],
        ["cmp.sampled", perMessage, "per"], ["cmp.encoding", example ? example.encoding : "", "encoding"],
        ["cmp.cost", (parts * price).toFixed(2), "cost"], ["cmp.example", example ? example.text : "", "example"],
        ["cmp.start", later ? when(isoOf($("cmp-send-at").value)) : t("cmp.now"), "start"]]) {
        dl.appendChild(el("dt", {}, t(label)));
        dl.appendChild(el("dd", { data: { field: key } }, value));
      }
      $("cmp-estimate-box").hidden = false;
    } catch (e) { show(result, e.message); }
  }

  async function confirmCampaign() {
    const result = $("cmp-result");
    try {
      const { fields, rows } = mappedRows();
      const lines = [fields.join(",")].concat(rows.map((r) => r.map(csvCell).join(",")));
      const form = new FormData();
      form.append("template", $("cmp-template").value);
      if ($("cmp-name").value.trim()) form.append("name", $("cmp-name").value.trim());
      if (document.querySelector('input[name="cmp-when"]:checked').value === "later" && $("cmp-send-at").value) {
        form.append("send_at", isoOf($("cmp-send-at").value));
      }
      if ($("cmp-rate").value) form.append("rate", $("cmp-rate").value);
      form.append("recipients", new Blob([lines.join("\n") + "\n"], { type: "text/csv" }), "recipients.csv");
      $("cmp-confirm").disabled = true;
      const got = await api("POST", "/v1/campaigns", form);
      show(result, t("cmp.created", { id: got.id, n: got.progress.recipients, r: got.progress.refused }), true);
      result.dataset.id = got.id;
      $("cmp-estimate-box").hidden = true;
      await refreshCampaigns();
    } catch (e) { show(result, e.message); }
    finally { $("cmp-confirm").disabled = false; }
  }

  function campaignButton(label, action, c, confirmWith) {
    const button = el("button", { type: "button", class: "small" + (confirmWith ? " danger" : ""), "data-action": action }, t(label));
    button.addEventListener("click", async function () {
      if (confirmWith && button.dataset.armed !== "1") {
        button.dataset.armed = "1";
        button.textContent = t(confirmWith);
        return;
      }
      button.disabled = true;
      try { await api("POST", "/v1/campaigns/" + encodeURIComponent(c.id) + "/" + action); await refreshCampaigns(); }
      catch (e) { flash(e.message); button.disabled = false; }
    });
    return button;
  }

  async function refreshCampaigns() {
    if (state.page !== "campaigns") return;
    let page;
    try { page = await api("GET", "/v1/campaigns"); } catch (e) { flash(e.message); return; }
    const body = $("campaigns-list").tBodies[0];
    const armed = new Set([...body.querySelectorAll("button[data-armed='1']")].map((b) => b.closest("tr").dataset.id));
    body.replaceChildren();
    for (const c of page.campaigns.slice().reverse()) {
      const p = c.progress;
      const open = p.queued + p.sending + p.submitted;
      const pct = p.recipients ? Math.floor((100 * (p.recipients - open)) / p.recipients) : 100;
      const bar = el("span", { class: "bar" }, el("span", {}));
      bar.firstChild.style.width = pct + "%";
      const actions = el("td", {});
      if (has("send") && c.state !== "cancelled" && c.state !== "done") {
        if (c.state === "paused") actions.appendChild(campaignButton("cmp.resume", "resume", c));
        else actions.appendChild(campaignButton("cmp.pause", "pause", c));
        const cancel = campaignButton("cmp.cancel", "cancel", c, "cmp.sure");
        actions.appendChild(cancel);
        if (armed.has(c.id)) { cancel.dataset.armed = "1"; cancel.textContent = t("cmp.sure"); }
      }
      body.appendChild(el("tr", { data: { id: c.id, state: c.state, pct: String(pct), queued: String(p.queued) } },
        el("td", {}, c.id), el("td", { class: "text" }, c.name || ""), el("td", {}, stateBadge(c.state)),
        el("td", {}, bar, el("span", { class: "pct" }, pct + " %")),
        el("td", {}, p.delivered + " / " + p.failed + " / " + p.queued),
        el("td", {}, c.current_rate + "/s"), actions));
    }
  }

  // --- opt-outs --------------------------------------------------------------------------------
  function optoutRow(s) {
    const remove = el("button", { type: "button", class: "small danger", "data-action": "remove" }, t("optout.remove"));
    remove.hidden = !has("admin");
    remove.addEventListener("click", async function () {
      if (remove.dataset.armed !== "1") { remove.dataset.armed = "1"; remove.textContent = t("optout.sure"); return; }
      try {
        await api("DELETE", "/v1/suppressions/" + encodeURIComponent(s.number));
        flash(t("optout.removed", { n: s.number }));
        row.remove();
      } catch (e) { flash(e.message); }
    });
    const row = el("tr", { data: { number: s.number } }, el("td", {}, s.number), el("td", { class: "text" }, s.reason),
                   el("td", {}, when(s.at)), el("td", {}, remove));
    return row;
  }

  async function listOptouts(more) {
    const q = new URLSearchParams({ limit: "50" });
    if (more && state.optoutCursor) q.set("cursor", state.optoutCursor);
    if (state.optoutPrefix) q.set("prefix", state.optoutPrefix);
    const body = $("optouts-list").tBodies[0];
    try {
      const page = await api("GET", "/v1/suppressions?" + q.toString());
      if (!more) body.replaceChildren();
      for (const s of page.suppressions) body.appendChild(optoutRow(s));
      if (!more && !page.suppressions.length) body.appendChild(el("tr", {}, el("td", { colspan: "4", class: "hint" }, t("optout.none"))));
      state.optoutCursor = page.next_cursor;
      $("optout-more").hidden = !page.next_cursor;
    } catch (e) { flash(e.message); }
  }

  function searchOptout(event) {
    event.preventDefault();
    state.optoutPrefix = $("optout-q").value.trim();  // (the first digits, or all)
    return listOptouts(false);
  }

  async function addOptout(event) {
    event.preventDefault();
    const number = $("optout-number").value.trim();
    const reason = $("optout-reason").value.trim();
    try {
      await api("PUT", "/v1/suppressions/" + encodeURIComponent(number), reason ? { reason: reason } : undefined);
      flash(t("optout.added", { n: number }));
      $("optout-number").value = "";
      $("optout-reason").value = "";
      await listOptouts(false);
    } catch (e) { flash(e.message); }
  }

  function showOptouts() { state.optoutPrefix = $("optout-q").value.trim(); listOptouts(false); }

  // --- wiring ----------------------------------------------------------------------------------
  async function start() {
    state.lang = chooseLanguage();
    applyLanguage();
    $("login-form").addEventListener("submit", login);
    $("logout").addEventListener("click", logout);
    $("lang-toggle").addEventListener("click", function () {
      state.lang = state.lang === "zh" ? "en" : "zh";
      sessionStorage.setItem(LANG, state.lang);
      applyLanguage();
      route();
    });
    $("search-form").addEventListener("submit", (e) => search(e, false));
    $("search-more").addEventListener("click", () => search(null, true));
    for (const radio of document.querySelectorAll('input[name="send-mode"]')) radio.addEventListener("change", sendMode);
    $("send-text").addEventListener("input", previewSend);
    $("send-kind").addEventListener("change", previewSend);
    $("send-template").addEventListener("change", () => { renderSendParams(); previewSend(); });
    $("send-form").addEventListener("submit", send);
    $("tpl-text").addEventListener("input", renderTemplateVars);
    $("tpl-sign").addEventListener("input", previewTemplate);
    $("tpl-kind").addEventListener("change", previewTemplate);
    $("template-form").addEventListener("submit", saveTemplate);
    $("tpl-reset").addEventListener("click", () => editTemplate(null));
    $("cmp-template").addEventListener("change", renderMapping);
    $("cmp-file").addEventListener("change", readCsvFile);
    for (const radio of document.querySelectorAll('input[name="cmp-when"]')) {
      radio.addEventListener("change", () => { $("cmp-send-at").disabled = radio.value !== "later" || !radio.checked; });
    }
    $("cmp-estimate").addEventListener("click", estimate);
    $("cmp-confirm").addEventListener("click", confirmCampaign);
    $("optout-search").addEventListener("submit", searchOptout);
    $("optout-all").addEventListener("click", () => { $("optout-q").value = ""; state.optoutPrefix = ""; listOptouts(false); });
    $("optout-more").addEventListener("click", () => listOptouts(true));
    $("optout-add").addEventListener("submit", addOptout);
    window.addEventListener("hashchange", route);
    await restore();
    route();
  }

  start();
})();
