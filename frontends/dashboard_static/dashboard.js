// dorlab dashboard: polls the JSON API (the same one lab automation uses) and redraws with plotly.js.
// Views by URL hash: #runs, #run/<id>, #devices, #device/<name>. Read-only: GET requests only.
"use strict";

const POLL_MS = Number(document.body.dataset.pollMs || 500);
const TOKEN = new URLSearchParams(window.location.search).get("token");
const state = { polls: 0, lastOk: null };
window.dorlabDashboard = state;  // for tests and the curious: poll count, last successful update

function api(path) {
  const url = TOKEN ? `${path}?token=${encodeURIComponent(TOKEN)}` : path;
  return fetch(url, { cache: "no-store" }).then(async (r) => {
    const body = await r.json().catch(() => ({ error: `HTTP ${r.status}` }));
    if (!r.ok) { const e = new Error(body.error || `HTTP ${r.status}`); e.status = r.status; throw e; }
    return body;
  });
}

const $ = (id) => document.getElementById(id);
const fmt = (x, scale = 1, digits = 4) => (x === null || x === undefined || !isFinite(x)) ? "—" : (x * scale).toFixed(digits);
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
const mA = (a) => (a || []).map((x) => x === null ? null : x * 1e3);
const mV = (a) => (a || []).map((x) => x === null ? null : x * 1e3);

function duration(s) {
  if (s === null || s === undefined || !isFinite(s)) return "—";
  if (s < 60) return `${s.toFixed(0)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
}

function banner(id, text) {
  const el = $(id);
  el.hidden = !text;
  el.textContent = text || "";
}

function showView(name) {
  for (const v of ["runs", "run", "devices", "device"]) $(`view-${v}`).hidden = v !== name;
}

function route() {
  const hash = decodeURIComponent(window.location.hash.slice(1)) || "runs";
  const slash = hash.indexOf("/");
  return slash < 0 ? { view: hash, arg: null } : { view: hash.slice(0, slash), arg: hash.slice(slash + 1) };
}

function rowLinks(tbody) {
  for (const tr of tbody.querySelectorAll("tr[data-href]")) tr.onclick = () => { window.location.hash = tr.dataset.href; };
}

const LAYOUT = { margin: { l: 70, r: 20, t: 40, b: 50 }, uirevision: "keep", font: { size: 12 } };
const CONFIG = { displaylogo: false, responsive: true };

// ------------------------------------------------------------------------------------------ runs
async function drawRuns() {
  const { runs } = await api("/api/runs");
  const tbody = $("runs-table").querySelector("tbody");
  tbody.innerHTML = runs.map((r) => `
    <tr data-href="run/${esc(r.id)}" data-run-id="${esc(r.id)}" data-points="${r.points_done}">
      <td>${esc(r.id)}</td><td>${esc(r.kind)}${r.calibration ? ` <span class="muted">(run ${r.calibration.run_id}, ${esc(r.calibration.status)})</span>` : ""}</td>
      <td>${esc(r.device)}</td><td>${esc(r.bench)}</td>
      <td><span class="status ${esc(r.status)}">${esc(r.status)}</span></td>
      <td><div class="progress"><div style="width:${(100 * (r.progress || 0)).toFixed(1)}%"></div></div>
          <span class="points">${r.points_done} / ${r.points_total}</span></td>
      <td>${r.status === "running" ? duration(r.eta_s) : ""}</td><td>${esc(r.updated_at)}</td>
    </tr>`).join("");
  rowLinks(tbody);
  $("runs-empty").hidden = runs.length > 0;
}

function sweepRange(run) {
  // the planned bias range, so the plot does not rescale as points arrive
  const [a, b] = (run.data && run.data.bias_range) || [run.settings && run.settings.bias_from, run.settings && run.settings.bias_to];
  return (typeof a === "number" && typeof b === "number") ? [a * 1e3, b * 1e3].sort((x, y) => x - y) : undefined;
}

function drawSweep(run) {
  const d = run.data;
  const n = d.bias_current.length;
  const trace = {
    x: mA(d.bias_current), y: mV(d.rectified_voltage), mode: "lines+markers", type: "scatter", name: "V_dc",
    error_y: { type: "data", array: mV(d.standard_error), visible: true, thickness: 1 },
    marker: { size: 6, color: (d.direction || []).map((s) => (s < 0 ? "#ff7f0e" : "#1f77b4")) },
  };
  const s = run.settings || {};
  Plotly.react("run-plot", [trace], {
    ...LAYOUT, title: { text: `V<sub>dc</sub>(I<sub>dc</sub>)${d.stage ? " (" + d.stage + ")" : ""}: ${n} points, error bars = standard error` },
    xaxis: { title: { text: "I<sub>dc</sub> (mA)" }, range: sweepRange(run) },
    yaxis: { title: { text: "V<sub>dc</sub> (mV)" } },
  }, CONFIG);
}

function drawPhaseMap(run) {
  const d = run.data;
  const z = (d.rectified_voltage || []).map((row) => mV(row));
  Plotly.react("run-plot", [{
    type: "heatmap", x: mA(d.bias_current), y: (d.rf_frequency || []).map((f) => f / 1e6), z,
    colorscale: "Viridis", colorbar: { title: { text: "V<sub>dc</sub> (mV)" } }, hoverongaps: false,
  }], {
    ...LAYOUT, title: { text: `phase map: ${run.points_done} / ${run.points_total} points` },
    xaxis: { title: { text: "I<sub>dc</sub> (mA)" } }, yaxis: { title: { text: "f<sub>ac</sub> (MHz)" } },
  }, CONFIG);
  const hasPhase = (d.phase || []).some((row) => row.some((v) => v !== null));
  $("run-plot2").hidden = !hasPhase;
  if (hasPhase) {
    Plotly.react("run-plot2", [{
      type: "heatmap", x: mA(d.bias_current), y: (d.rf_frequency || []).map((f) => f / 1e6), z: d.phase,
      colorscale: "RdBu", zmid: 0, colorbar: { title: { text: "φ (rad)" } }, hoverongaps: false,
    }], { ...LAYOUT, title: { text: "phase (inside the locking window)" },
      xaxis: { title: { text: "I<sub>dc</sub> (mA)" } }, yaxis: { title: { text: "f<sub>ac</sub> (MHz)" } } }, CONFIG);
  }
}

function drawDorJob(run) {
  const d = run.data;
  const chunks = d.chunks || [];
  Plotly.react("run-plot", [{
    type: "bar", x: chunks.map((c) => c.chunk), y: chunks.map((c) => c.reads_per_product), name: "reads per product",
    hovertext: chunks.map((c) => `${c.products} products, ${c.reads} reads`),
  }], {
    ...LAYOUT, title: { text: `reads per product by chunk (job: ${fmt(d.reads_per_product, 1, 3)} over ${d.products_done} products)` },
    xaxis: { title: { text: "chunk" } }, yaxis: { title: { text: "reads per product" }, rangemode: "tozero" },
  }, CONFIG);
  $("run-plot2").hidden = !(d.value_exact || []).length;
  if ((d.value_exact || []).length) {
    Plotly.react("run-plot2", [{ type: "scattergl", mode: "markers", x: d.value_exact, y: d.value_dor, marker: { size: 3 } }],
      { ...LAYOUT, title: { text: "DOR value vs exact" }, xaxis: { title: { text: "exact" } }, yaxis: { title: { text: "DOR" } } }, CONFIG);
  }
}

async function drawRun(id) {
  const run = await api(`/api/runs/${encodeURIComponent(id)}`);
  $("run-title").textContent = `${run.kind} ${run.id}`;
  const cal = run.calibration;
  $("run-meta").textContent = `device ${run.device || "—"} · bench ${run.bench || "—"} · started ${run.started_at || "—"} · updated ${run.updated_at || "—"}` +
    (cal ? ` · calibration run ${cal.run_id} ${cal.status}${cal.active ? " (active)" : ""}${cal.reason ? ": " + cal.reason : ""}` : "") +
    (run.message ? ` · ${run.message}` : "");
  const st = $("run-status");
  st.className = `status ${run.status}`;
  st.textContent = run.status;
  $("run-points").textContent = `${run.points_done} / ${run.points_total} points`;
  $("run-points").dataset.points = run.points_done;
  $("run-eta").textContent = run.status === "running" ? `ETA ${duration(run.eta_s)}` : "";
  $("run-progress").style.width = `${(100 * (run.progress || 0)).toFixed(1)}%`;
  $("run-plot2").hidden = true;
  if (run.kind === "phase-map") drawPhaseMap(run);
  else if (run.kind === "dor-job") drawDorJob(run);
  else if (run.data && run.data.bias_current) drawSweep(run);
  else Plotly.purge("run-plot");  // a run without points to draw (a recalibration): its table says it all
}

// ----------------------------------------------------------------------------------- calibrations
async function drawDevices() {
  const { devices } = await api("/api/devices");
  const tbody = $("devices-table").querySelector("tbody");
  tbody.innerHTML = devices.map((d) => `
    <tr data-href="device/${esc(d.device)}" data-device="${esc(d.device)}">
      <td>${esc(d.device)}</td><td>${d.runs}</td><td>${d.accepted}</td><td>${d.rejected}</td>
      <td>${d.active_run_id ?? "—"}</td><td>${fmt(d.a_prime, 1e3)}</td><td>${fmt(d.c_prime, 1e3)}</td>
      <td>${fmt(d.vertex_current, 1e3)}</td><td>${fmt(d.r_squared, 1, 5)}</td>
      <td>${fmt(d.product_correlation, 1, 5)}</td><td>${esc(d.last_calibrated_at)}</td>
    </tr>`).join("");
  rowLinks(tbody);
  $("devices-empty").hidden = devices.length > 0;
}

async function drawDevice(name) {
  const dev = await api(`/api/devices/${encodeURIComponent(name)}`);
  const a = dev.active;
  $("device-title").textContent = `device ${dev.device}`;
  $("device-meta").textContent = a
    ? `active run ${a.run_id} (${a.created_at}) · a' ${fmt(a.a_prime, 1e3)} mV · c' ${fmt(a.c_prime, 1e3)} mV · I_dc,0 ${fmt(a.vertex_current, 1e3)} mA · R² ${fmt(a.r_squared, 1, 5)} · product r ${fmt(a.product_correlation, 1, 5)}`
    : "no active calibration (every run rejected, or none activated)";
  if (a) {
    const traces = [
      { x: mA(a.sweep.bias_current), y: mV(a.sweep.rectified_voltage), mode: "markers", type: "scatter", name: "sweep points",
        error_y: { type: "data", array: mV(a.sweep.standard_error), visible: true, thickness: 1 }, marker: { size: 5, color: "#555" } },
      { x: mA(a.curve.bias_current), y: mV(a.curve.rectified_voltage), mode: "lines", name: "fit a I² + b I + c", line: { color: "#1f77b4" } },
      { x: mA(a.input_curve.bias_current), y: mV(a.input_curve.rectified_voltage), mode: "lines", name: "a' x² + c' on the input range", line: { color: "#d62728", width: 4 } },
    ];
    Plotly.react("device-parabola", traces, {
      ...LAYOUT, title: { text: `active calibration (run ${a.run_id}) over its sweep` }, legend: { orientation: "h", y: -0.2 },
      xaxis: { title: { text: "I<sub>dc</sub> (mA)" } }, yaxis: { title: { text: "V<sub>dc</sub> (mV)" } },
      shapes: [{ type: "line", x0: a.vertex_current * 1e3, x1: a.vertex_current * 1e3, yref: "paper", y0: 0, y1: 1, line: { dash: "dot", color: "#999" } }],
    }, CONFIG);
  } else {
    Plotly.purge("device-parabola");
  }
  drawDrift(dev.history);
  const tbody = $("rejected-table").querySelector("tbody");
  tbody.innerHTML = dev.rejected.map((r) => `<tr data-run="${r.run_id}"><td>${r.run_id}</td><td>${esc(r.created_at)}</td>
    <td>${fmt(r.r_squared, 1, 5)}</td><td>${r.n_points}</td><td class="reason">${esc(r.reason)}</td></tr>`).join("");
  $("rejected-empty").hidden = dev.rejected.length > 0;
}

function drawDrift(history) {
  const t = history.map((h) => h.created_at);
  const color = history.map((h) => (h.status === "rejected" ? "#d62728" : h.active ? "#2ca02c" : "#1f77b4"));
  const symbol = history.map((h) => (h.status === "rejected" ? "x" : "circle"));
  const text = history.map((h) => `run ${h.run_id} ${h.status}${h.active ? " (active)" : ""}${h.reason ? ": " + h.reason : ""}`);
  const series = [
    ["a' (mV)", history.map((h) => h.a_prime === null ? null : h.a_prime * 1e3), "y"],
    ["c' (mV)", history.map((h) => h.c_prime === null ? null : h.c_prime * 1e3), "y2"],
    ["I<sub>dc,0</sub> (mA)", history.map((h) => h.vertex_current === null ? null : h.vertex_current * 1e3), "y3"],
    ["R²", history.map((h) => h.r_squared), "y4"],
  ];
  const traces = series.map(([name, y, axis]) => ({
    x: t, y, yaxis: axis, name, mode: "lines+markers", type: "scatter", text, hoverinfo: "x+y+text",
    marker: { size: 9, color, symbol }, line: { color: "#bbb" }, showlegend: false,
  }));
  const layout = { ...LAYOUT, title: { text: `drift: ${history.length} calibrations (green active, red rejected)` },
    height: undefined, xaxis: { title: { text: "time (UTC)" }, anchor: "y4" } };
  series.forEach(([name], k) => {
    const key = k === 0 ? "yaxis" : `yaxis${k + 1}`;
    const top = 1 - k * 0.25;
    layout[key] = { title: { text: name }, domain: [top - 0.21, top] };
  });
  Plotly.react("device-drift", traces, layout, CONFIG);
  $("device-drift").dataset.calibrations = history.length;
}

// ------------------------------------------------------------------------------------------- loop
async function poll() {
  const { view, arg } = route();
  try {
    const status = await api("/api/status");
    $("data-dir").textContent = status.data_dir;
    const store = status.store;
    banner("store-banner", store.status === "unreadable" ? `calibration store unreadable: ${store.error}` : "");
    showView(["runs", "run", "devices", "device"].includes(view) ? view : "runs");
    if (view === "run" && arg) await drawRun(arg);
    else if (view === "device" && arg) await drawDevice(arg);
    else if (view === "devices") await drawDevices();
    else await drawRuns();
    banner("banner", "");
    state.lastOk = Date.now();
    $("updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
  } catch (err) {
    banner("banner", err.status === 503 ? err.message : `cannot update: ${err.message}`);
  } finally {
    state.polls += 1;
    setTimeout(poll, POLL_MS);
  }
}

window.addEventListener("hashchange", () => { state.polls = 0; });
poll();
