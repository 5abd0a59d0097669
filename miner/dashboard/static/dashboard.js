// pavm-net's live dashboard: the overview arrives as server-sent events from
// /dashboard/events; a block or transaction (#block/N, #tx/HASH) is fetched on demand.
// Every text from the network is set with textContent, never parsed as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
const LAYOUT = { margin: { l: 50, r: 20, t: 30, b: 35 }, font: { size: 11 }, showlegend: true,
  legend: { orientation: "h", y: -0.25 } };
const CONFIG = { displaylogo: false, responsive: true };
let latest = null;
let shownBlock = null; // {number, complete, fetched}: refreshed live until complete

function cell(row, text, cls) {
  const td = document.createElement("td");
  td.textContent = text === null || text === undefined ? "" : String(text);
  if (cls) td.className = cls;
  row.appendChild(td);
  return td;
}

function fill(tableId, items, render, onClick) {
  const body = $(tableId).querySelector("tbody");
  const rows = items.map((item) => {
    const row = document.createElement("tr");
    render(row, item);
    if (onClick) {
      row.className = "link";
      row.addEventListener("click", () => onClick(item));
    }
    return row;
  });
  body.replaceChildren(...rows);
}

function short(hex) {
  return hex && hex.length > 14 ? hex.slice(0, 10) + "…" + hex.slice(-4) : hex;
}

function txRate(blocks) {
  const recent = blocks.slice(-10);
  if (recent.length < 2) return null;
  const span = recent[recent.length - 1].timestamp - recent[0].timestamp;
  const txs = recent.slice(1).reduce((n, b) => n + b.transactions, 0);
  return span > 0 ? txs / span : null;
}

// -- overview ---------------------------------------------------------------------------

function showOverview(o) {
  latest = o;
  $("head").textContent = o.head;
  $("pool").textContent = o.pool;
  const rate = txRate(o.blocks);
  $("tps").textContent = rate === null ? "–" : rate.toFixed(1);
  $("members").textContent = o.members;
  const top = o.blocks[o.blocks.length - 1];
  $("agreeing").textContent = top ? `${top.agree}/${o.members}` : "–";
  if (!$("block-page").hidden && shownBlock && !shownBlock.complete
      && Date.now() - shownBlock.fetched > 2000) {
    showBlock(shownBlock.number).catch(() => {});
  }
  if ($("overview").hidden) return;
  drawSeries(o);
  drawValidators(o);
  fill("blocks", o.blocks.slice().reverse(), (row, b) => {
    cell(row, b.number);
    cell(row, short(b.hash), "mono");
    cell(row, b.transactions);
    cell(row, b.groups);
    cell(row, b.largestGroup);
    cell(row, b.rwsetBytes);
    cell(row, b.strategies.join(", "));
    cell(row, b.agree, "agree");
    cell(row, b.reject, b.reject ? "reject" : "");
    cell(row, b.missing);
  }, (b) => { location.hash = `#block/${b.number}`; });
  fill("rejected", o.rejected.slice().reverse(), (row, r) => {
    cell(row, r.number);
    cell(row, r.validator);
    cell(row, r.reason, "reject");
  }, (r) => { location.hash = `#block/${r.number}`; });
}

function drawSeries(o) {
  const times = o.samples.map((s) => new Date(s[0] * 1000));
  Plotly.react("chart-head", [
    { x: times, y: o.samples.map((s) => s[1]), name: "head", mode: "lines" },
    { x: times, y: o.samples.map((s) => s[2]), name: "pool size", mode: "lines", yaxis: "y2" },
  ], { ...LAYOUT, title: { text: "Head and pool" },
    yaxis2: { overlaying: "y", side: "right", rangemode: "tozero" } }, CONFIG);
  const numbers = [], intervals = [], rates = [];
  for (let i = 1; i < o.blocks.length; i++) {
    const b = o.blocks[i], dt = b.timestamp - o.blocks[i - 1].timestamp;
    numbers.push(b.number);
    intervals.push(dt);
    rates.push(dt > 0 ? b.transactions / dt : null);
  }
  Plotly.react("chart-rate", [
    { x: numbers, y: rates, name: "tx/s", type: "bar" },
    { x: numbers, y: intervals, name: "block interval s", mode: "lines+markers", yaxis: "y2" },
  ], { ...LAYOUT, title: { text: "Throughput per block (x: block number)" },
    yaxis2: { overlaying: "y", side: "right", rangemode: "tozero" } }, CONFIG);
}

function drawValidators(o) {
  fill("validators", o.validators, (row, v) => {
    cell(row, v.name);
    cell(row, v.state, v.state === "synced" ? "agree" : "reject").title = v.error;
    cell(row, v.head);
    cell(row, v.lag);
    cell(row, v.strategy);
    cell(row, v.workers);
    const last = v.lastVerdict;
    cell(row, last ? `${last.number}: ${last.agree ? "agree" : "reject " + last.reason}` : "",
      last && !last.agree ? "reject" : "agree");
    const ms = v.validationMs[v.validationMs.length - 1];
    cell(row, ms ? ms[1].toFixed(1) : "");
    const sp = v.speedup[v.speedup.length - 1];
    cell(row, sp ? sp[1].toFixed(2) + "x" : "");
    cell(row, Object.entries(v.droppedCounts).map(([k, n]) => `${k} ${n}`).join(", "));
  });
  Plotly.react("chart-validation", o.validators.map((v) => ({
    x: v.validationMs.map((p) => p[0]), y: v.validationMs.map((p) => p[1]), name: v.name,
    mode: "lines+markers" })),
  { ...LAYOUT, showlegend: false, title: { text: "Validation time per block (ms)" } }, CONFIG);
  Plotly.react("chart-speedup", o.validators.map((v) => ({
    x: v.speedup.map((p) => p[0]), y: v.speedup.map((p) => p[1]), name: v.name,
    mode: "lines+markers" })),
  { ...LAYOUT, showlegend: false, title: { text: "Speedup over one core, per block" } }, CONFIG);
  // The paper's Figs. 19/20, live: each validator core's utilisation block by block.
  const rows = [], z = [];
  const blocks = o.blocks.map((b) => b.number);
  for (const v of o.validators) {
    const byBlock = new Map(v.utilisation);
    const workers = Math.max(0, ...v.utilisation.map((p) => p[1].length));
    for (let w = 0; w < workers; w++) {
      rows.push(`${v.name} w${w} (core ${v.cores[w] ?? "?"})`);
      z.push(blocks.map((n) => (byBlock.has(n) ? byBlock.get(n)[w] ?? null : null)));
    }
  }
  Plotly.react("chart-cores", [{ type: "heatmap", x: blocks, y: rows, z, zmin: 0, zmax: 1,
    colorscale: "Viridis", colorbar: { title: { text: "busy" } } }],
  { ...LAYOUT, title: { text: "Worker core utilisation during execution, per block" },
    margin: { ...LAYOUT.margin, l: 170 } }, CONFIG);
}

// -- block and transaction pages --------------------------------------------------------

async function getJson(path) {
  const answer = await fetch(path);
  const body = await answer.json().catch(() => ({}));
  if (!answer.ok) throw new Error(body.detail || `${answer.status} ${answer.statusText}`);
  return body;
}

function facts(id, pairs) {
  const dl = $(id);
  dl.replaceChildren();
  for (const [name, value] of pairs) {
    const dt = document.createElement("dt");
    dt.textContent = name;
    const dd = document.createElement("dd");
    dd.textContent = value === null || value === undefined ? "" : String(value);
    dl.append(dt, dd);
  }
}

async function showBlock(number) {
  const data = await getJson(`/dashboard/api/block/${number}`);
  const members = latest ? latest.members : 0;
  shownBlock = { number, fetched: Date.now(),
    complete: Object.keys(data.reports).length >= members && data.verdicts.length >= members };
  $("block-number").textContent = number;
  const block = data.block, s = data.summary || {};
  facts("block-facts", [
    ["hash", block.hash], ["transactions", block.transactions.length], ["groups", data.groups.length],
    ["largest group", s.largestGroup], ["R/W-set bytes", s.rwsetBytes],
    ["gas used", parseInt(block.gasUsed, 16)], ["timestamp", new Date(parseInt(block.timestamp, 16) * 1000).toISOString()],
    ["operation receipts root", data.commitments.operationReceiptsRoot],
    ["agree", data.verdicts.filter((v) => v.agree).length],
    ["reject", data.verdicts.filter((v) => !v.agree).length],
  ]);
  const groupOf = {};
  data.groups.forEach((g, i) => g.transactions.forEach((t) => { groupOf[t] = i; }));
  fill("block-verdicts", data.verdicts, (row, v) => {
    cell(row, v.validator);
    cell(row, v.agree ? "agree" : "reject", v.agree ? "agree" : "reject");
    cell(row, v.reason);
    cell(row, v.validation_ms.toFixed(1));
  });
  fill("block-txs", block.transactions, (row, tx) => {
    const i = parseInt(tx.transactionIndex, 16), rw = data.rwsets[i], r = data.commitments.receipts[i] || {};
    cell(row, i);
    cell(row, short(tx.hash), "mono");
    cell(row, short(tx.from), "mono");
    cell(row, short(tx.to), "mono");
    cell(row, groupOf[i]);
    cell(row, rw.reads.length);
    cell(row, rw.writes.length);
    cell(row, short(r.readHash), "mono");
    cell(row, short(r.writeHash), "mono");
  }, (tx) => { location.hash = `#tx/${tx.hash}`; });
  const select = $("gantt-validator"), names = Object.keys(data.reports).sort();
  const chosen = names.includes(select.value) ? select.value : names[0];
  select.replaceChildren(...names.map((n) => {
    const option = document.createElement("option");
    option.value = option.textContent = n;
    return option;
  }));
  if (chosen) select.value = chosen;
  select.onchange = () => drawGantt(data.reports[select.value], groupOf);
  drawGantt(chosen ? data.reports[chosen] : null, groupOf);
}

function drawGantt(report, groupOf) {
  if (!report) {
    Plotly.react("chart-gantt", [], { ...LAYOUT, title: { text: "no validator has reported this block yet" } }, CONFIG);
    return;
  }
  const colours = { group: "#457b9d", tx: "#2a9d8f", subcalls: "#e76f51" };
  const lane = (w) => `worker ${w} (core ${report.cores[w] ?? "?"})`;
  const lanes = report.cores.map((_, w) => lane(w)).reverse();
  const traces = Object.keys(colours).map((kind) => {
    const spans = report.spans.filter((s) => s.kind === kind);
    return {
      type: "bar", orientation: "h", name: kind, marker: { color: colours[kind] },
      y: spans.map((s) => lane(s.worker)),
      base: spans.map((s) => s.startMs), x: spans.map((s) => s.endMs - s.startMs),
      text: spans.map((s) => (kind === "subcalls" ? `for w${s.id}` : `${kind} ${s.id}`)),
      hovertext: spans.map((s) => `${kind} ${s.id}: ${(s.endMs - s.startMs).toFixed(2)} ms wall, ${s.cpuMs.toFixed(2)} ms CPU`),
      hoverinfo: "text", textposition: "inside",
    };
  }).filter((t) => t.y.length);
  Plotly.react("chart-gantt", traces, { ...LAYOUT, barmode: "overlay",
    title: { text: `${report.strategy}: ${report.groups} groups on ${report.workers} workers, execute ${report.phasesMs.execute} ms, total ${report.phasesMs.total} ms, speedup ${report.speedupEstimate}x` },
    xaxis: { title: { text: "ms since dispatch" }, rangemode: "tozero" },
    yaxis: { type: "category", categoryorder: "array", categoryarray: lanes, range: [-0.5, lanes.length - 0.5] },
    margin: { ...LAYOUT.margin, l: 120 } }, CONFIG);
}

async function showTransaction(hash) {
  const data = await getJson(`/dashboard/api/tx/${hash}`);
  const tx = data.transaction, receipt = data.receipt, op = data.operationReceipt;
  $("tx-hash").textContent = hash;
  facts("tx-facts", [
    ["status", parseInt(receipt.status, 16) === 1 ? "success" : "reverted"],
    ["block", parseInt(receipt.blockNumber, 16)], ["index", parseInt(receipt.transactionIndex, 16)],
    ["group", op ? op.group : ""], ["from", tx.from], ["to", tx.to],
    ["gas used", parseInt(receipt.gasUsed, 16)], ["gas limit", parseInt(tx.gas, 16)],
    ["read hash", op ? op.readHash : ""], ["write hash", op ? op.writeHash : ""],
  ]);
  $("tx-logs").textContent = JSON.stringify(receipt.logs, null, 1) + more(receipt.logs, data.logCount, "logs");
  $("tx-rwset").textContent = JSON.stringify(data.rwset, null, 1);
  $("tx-ops").textContent = op
    ? JSON.stringify(op.operations, null, 1) + more(op.operations, data.operationCount, "operations")
    : `not replayed: ${data.operationError}`;
}

// The server sends the first 1,000 of a transaction's logs and operations; say what is left out.
function more(shown, total, what) {
  return total > shown.length ? `\n… and ${total - shown.length} more ${what} (${total} in all), not shown` : "";
}

// -- navigation -------------------------------------------------------------------------

async function route() {
  const [page, arg] = location.hash.slice(1).split("/");
  $("error").hidden = true;
  $("overview").hidden = page === "block" || page === "tx";
  $("block-page").hidden = page !== "block";
  $("tx-page").hidden = page !== "tx";
  try {
    if (page === "block") await showBlock(parseInt(arg, 10));
    else if (page === "tx") await showTransaction(arg);
    else if (latest) showOverview(latest);
  } catch (err) {
    $("error").textContent = err.message;
    $("error").hidden = false;
  }
}

$("search").addEventListener("submit", (event) => {
  event.preventDefault();
  const q = $("query").value.trim();
  location.hash = /^\d+$/.test(q) ? `#block/${q}` : `#tx/${q}`;
});
window.addEventListener("hashchange", route);

function listen() {
  const source = new EventSource("/dashboard/events");
  source.addEventListener("overview", (event) => {
    $("live").textContent = "live";
    $("live").className = "on";
    showOverview(JSON.parse(event.data));
  });
  source.onerror = () => {
    $("live").textContent = "reconnecting…";
    $("live").className = "off";
  };
}

route();
listen();
