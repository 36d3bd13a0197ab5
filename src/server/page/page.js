// The test-batch page: posts one file to /testbatches (nothing recorded or
// forwarded), then shows the Retourbericht in brief. Plain JavaScript, no
// build step; the token stays in this page's memory only.
"use strict";

const $ = (id) => document.getElementById(id);
const MAX_ROWS = 2000;
let chosen = null;   // the File to send
let answer = null;   // the parsed JSON answer
let answerText = ""; // the JSON answer as received

// BSNs are shown masked except the last three digits.
function mask(bsn) {
  const s = String(bsn || "");
  return s.length <= 3 ? s : "\u2022".repeat(s.length - 3) + s.slice(-3);
}

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

function row(cells, classes) {
  const tr = document.createElement("tr");
  cells.forEach((c, i) => tr.appendChild(el("td", c, classes && classes[i])));
  return tr;
}

function choose(file) {
  chosen = file || null;
  $("drop-text").textContent = chosen
    ? chosen.name + " (" + chosen.size.toLocaleString("nl-NL") + " bytes)"
    : "choose a file or drop it here";
}

function showError(text) {
  $("error").textContent = text;
  $("error").hidden = !text;
}

// One POST of the chosen file; `accept` picks the answer's form.
function post(accept, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/testbatches");
    xhr.setRequestHeader("Authorization", "Bearer " + $("token").value.trim());
    xhr.setRequestHeader("Content-Type", "application/xml");
    xhr.setRequestHeader("Accept", accept);
    if (onProgress) {
      xhr.upload.onprogress = (e) => onProgress(e.loaded, e.lengthComputable ? e.total : chosen.size);
    }
    xhr.onload = () => resolve(xhr);
    xhr.onerror = () => reject(new Error("the gateway could not be reached"));
    xhr.send(chosen);
  });
}

function problem(xhr) {
  let detail = xhr.responseText;
  try {
    const p = JSON.parse(xhr.responseText);
    detail = [p.title, p.detail].filter(Boolean).join(": ");
  } catch (_) { /* plain text */ }
  return "HTTP " + xhr.status + ": " + detail.trim();
}

async function send(ev) {
  ev.preventDefault();
  showError("");
  if (!chosen) { showError("Choose a batch file first."); return; }
  if (!$("token").value.trim()) { showError("Enter your bearer token first."); return; }
  const bar = $("progress");
  bar.hidden = false;
  bar.value = 0;
  $("send").disabled = true;
  $("progress-text").textContent = "uploading\u2026";
  try {
    const xhr = await post("application/json", (loaded, total) => {
      const pct = total ? Math.round((100 * loaded) / total) : 0;
      bar.value = pct;
      $("progress-text").textContent = pct < 100
        ? "uploading " + pct + "%"
        : "uploaded, checking\u2026";
    });
    bar.value = 100;
    if (xhr.status !== 200) {
      $("progress-text").textContent = "";
      showError(problem(xhr));
      return;
    }
    answerText = xhr.responseText;
    answer = JSON.parse(answerText);
    $("progress-text").textContent = "checked";
    show(answer);
  } catch (e) {
    $("progress-text").textContent = "";
    showError(String(e.message || e));
  } finally {
    $("send").disabled = false;
  }
}

function show(a) {
  const lines = a.prestaties || [];
  const t = a.totalen || {};
  $("verwerking").textContent = a.verwerking;
  $("identificatie").textContent = (a.heenbericht && a.heenbericht.identificatie) || "?";
  $("accepted").textContent = t.aantal_geaccepteerd ?? 0;
  $("rejected").textContent = t.aantal_afgewezen ?? 0;

  const mc = a.retourcodes || [];
  $("message-codes").hidden = mc.length === 0;
  const ul = $("message-code-list");
  ul.replaceChildren();
  for (const c of mc) {
    ul.appendChild(el("li", c.code + " " + c.omschrijving + (c.locatie ? " (" + c.locatie + ")" : "")));
  }

  // Lines per route.
  const routes = new Map();
  for (const p of lines) routes.set(p.route, (routes.get(p.route) || 0) + 1);
  const rb = $("routes").querySelector("tbody");
  rb.replaceChildren();
  for (const [r, n] of [...routes].sort()) {
    const pct = lines.length ? Math.round((100 * n) / lines.length) + "%" : "";
    const tr = row([r, String(n), pct], ["route-" + r, "n", "n"]);
    tr.dataset.route = r;
    rb.appendChild(tr);
  }

  // Every retourcode of every line, counted once per line it is on.
  const codes = new Map();
  for (const p of lines) {
    for (const c of p.retourcodes || []) {
      const k = codes.get(c.code) || { c, n: 0 };
      k.n += 1;
      codes.set(c.code, k);
    }
  }
  const cb = $("codes").querySelector("tbody");
  cb.replaceChildren();
  for (const [code, { c, n }] of [...codes].sort()) {
    const tr = row([code, c.ernst, c.omschrijving, String(n)], ["", "", "", "n"]);
    tr.dataset.code = code;
    cb.appendChild(tr);
  }
  if (codes.size === 0) cb.appendChild(row(["\u2013", "", "no retourcodes on any line", ""]));

  // Filters.
  const fr = $("filter-route");
  fr.replaceChildren(new Option("all", ""));
  for (const r of [...routes.keys()].sort()) fr.appendChild(new Option(r, r));
  const fc = $("filter-code");
  fc.replaceChildren(new Option("all", ""), new Option("none", "-"));
  for (const code of [...codes.keys()].sort()) fc.appendChild(new Option(code, code));

  $("result").hidden = false;
  renderLines();
}

function renderLines() {
  const lines = (answer && answer.prestaties) || [];
  const route = $("filter-route").value;
  const code = $("filter-code").value;
  const tb = $("lines").querySelector("tbody");
  tb.replaceChildren();
  let matched = 0;
  lines.forEach((p, i) => {
    const cs = p.retourcodes || [];
    if (route && p.route !== route) return;
    if (code === "-" && cs.length) return;
    if (code && code !== "-" && !cs.some((c) => c.code === code)) return;
    matched += 1;
    if (matched > MAX_ROWS) return;
    const product = p.oorspronkelijke_product_code
      ? p.product_code + " (was " + p.oorspronkelijke_product_code + ")"
      : p.product_code;
    const tr = row(
      [String(i + 1), p.referentie_nummer, mask(p.bsn), p.route, product,
       cs.map((c) => c.code).join(" ")],
      ["n", "", "bsn", "route-" + p.route, "", ""]);
    tr.lastChild.title = cs.map((c) => c.code + ": " + c.omschrijving).join("\n");
    tb.appendChild(tr);
  });
  $("shown").textContent = matched > MAX_ROWS
    ? "showing the first " + MAX_ROWS + " of " + matched + " lines"
    : matched + " of " + lines.length + " lines";
}

function download(blob, name) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.appendChild(a);
  a.click();
  setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
}

function baseName() {
  const id = answer && answer.heenbericht && answer.heenbericht.identificatie;
  return "retourbericht-" + (id || "test");
}

$("upload").addEventListener("submit", send);
$("file").addEventListener("change", () => choose($("file").files[0]));
const drop = $("drop");
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  if (e.dataTransfer.files.length) choose(e.dataTransfer.files[0]);
});
$("filter-route").addEventListener("change", renderLines);
$("filter-code").addEventListener("change", renderLines);
$("download-json").addEventListener("click", () =>
  download(new Blob([answerText], { type: "application/json" }), baseName() + ".json"));
// The XML form is a second test post of the same file: nothing is recorded.
$("download-xml").addEventListener("click", async () => {
  showError("");
  try {
    const xhr = await post("application/xml");
    if (xhr.status !== 200) { showError(problem(xhr)); return; }
    download(new Blob([xhr.responseText], { type: "application/xml" }), baseName() + ".xml");
  } catch (e) {
    showError(String(e.message || e));
  }
});
