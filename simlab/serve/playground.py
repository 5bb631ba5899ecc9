'''The page at ``/``: a search playground in plain HTML and JavaScript (no CDN, no build step, works offline).

A query box, the index to search (GET /v1/indexes), top-k; the hits of ``/v1/search`` with their whitened scores
on the left and, on the right, the same hits re-scored with the raw pooled vectors (``/v1/similarity`` with
``whiten: false``) and re-ranked by that score: whitened vs raw side by side. An API key box when the server
wants one (kept in the browser's localStorage). ``/?q=...&index=...&k=...`` fills the form and searches.
'''

PAGE = r"""<!doctype html>
<html lang="zh"><head><meta charset="utf-8"><title>simlab serve · playground</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:15px/1.45 system-ui,-apple-system,"Noto Sans CJK SC","PingFang SC",sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
header{background:#1d2330;color:#fff;padding:12px 24px}header b{font-size:18px}header span{opacity:.7;margin-left:12px}
main{max-width:1100px;margin:18px auto;padding:0 16px}
form{display:flex;gap:8px;flex-wrap:wrap;align-items:center;background:#fff;padding:12px;border-radius:8px;box-shadow:0 1px 3px #0002}
input,select,button{font:inherit;padding:7px 10px;border:1px solid #c8ccd4;border-radius:6px}
#q{flex:1;min-width:260px}button{background:#2f6fed;color:#fff;border:0;cursor:pointer}
.cols{display:grid;grid-template-columns:1fr 1fr;gap:16px;margin-top:16px}
.card{background:#fff;border-radius:8px;box-shadow:0 1px 3px #0002;padding:12px}
.card h3{margin:0 0 8px;font-size:15px}table{width:100%;border-collapse:collapse}
td{padding:5px 6px;border-top:1px solid #eef0f3;vertical-align:top}td.s{width:70px;text-align:right;font-variant-numeric:tabular-nums}
td.r{width:28px;color:#888}.bar{height:4px;background:#2f6fed;border-radius:2px;margin-top:3px}
#status{margin-top:10px;color:#666;font-size:13px}.err{color:#b00020}
</style></head><body>
<header><b>simlab serve</b><span id="model">loading…</span></header>
<main>
<form id="f">
  <input id="q" placeholder="输入查询，例如：怎么申请信用卡" autofocus>
  <select id="index" title="index"></select>
  <label>top <input id="k" type="number" min="1" max="100" value="5" style="width:64px"></label>
  <input id="key" type="password" placeholder="API key (if required)" style="width:170px">
  <button>Search</button>
</form>
<div class="cols">
  <div class="card"><h3 id="lt">whitened (index)</h3><table id="left"></table></div>
  <div class="card"><h3>raw pooled vectors (same hits, re-ranked)</h3><table id="right"></table></div>
</div>
<div id="status"></div>
</main>
<script>
const $ = (id) => document.getElementById(id);
$("key").value = localStorage.getItem("simlab-key") || "";
function headers() {
  const h = {"Content-Type": "application/json"}; const k = $("key").value.trim();
  if (k) { h["Authorization"] = "Bearer " + k; localStorage.setItem("simlab-key", k); }
  return h;
}
async function api(path, body) {
  const r = await fetch(path, body ? {method: "POST", headers: headers(), body: JSON.stringify(body)} : {headers: headers()});
  const j = await r.json();
  if (!r.ok) throw new Error(j.error ? j.error.message : r.statusText);
  return j;
}
function esc(s) { return String(s).replace(/[&<>"]/g, c => ({"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;"}[c])); }
function rows(el, hits) {
  el.innerHTML = hits.map((h, i) => `<tr><td class="r">${i + 1}</td><td>${esc(h.text)}<div class="bar" style="width:${Math.max(0, h.score) * 100}%"></div></td><td class="s">${h.score.toFixed(4)}</td></tr>`).join("");
}
async function init() {
  try {
    const info = await api("/info");
    $("model").textContent = `${info.model} · ${info.pooling} · ${info.engine}/${info.precision}` +
      (info.whitening ? ` · whitening k≤${info.whitening.k_max}` : "");
    const idx = await api("/v1/indexes");
    $("index").innerHTML = idx.data.map(i => `<option value="${esc(i.id)}">${esc(i.id)} (${i.count} docs, ${esc(i.projection.type)} k=${i.dim})</option>`).join("");
    if (!idx.data.length) $("status").textContent = "no index loaded: start the server with --index NAME=DIR";
  } catch (e) { $("status").innerHTML = `<span class="err">${esc(e.message)}</span>`; }
}
$("f").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const q = $("q").value.trim(); if (!q) return;
  $("status").textContent = "searching…";
  try {
    const t0 = performance.now();
    const res = await api("/v1/search", {index: $("index").value, query: q, top_k: Number($("k").value) || 5});
    const hits = res.data[0].hits; rows($("left"), hits);
    $("lt").textContent = `whitened (index ${res.index})`;
    const sim = await api("/v1/similarity", {pairs: hits.map(h => [q, h.text]), whiten: false});
    const raw = hits.map((h, i) => ({text: h.text, score: sim.data[i].score})).sort((a, b) => b.score - a.score);
    rows($("right"), raw);
    $("status").textContent = `${hits.length} hits in ${(performance.now() - t0).toFixed(0)} ms · ${res.usage.total_tokens} tokens`;
  } catch (e) { $("status").innerHTML = `<span class="err">${esc(e.message)}</span>`; }
});
init().then(() => {  // ?q=...&index=...&k=...: fill the form and search (links, screenshots)
  const u = new URLSearchParams(location.search);
  if (u.get("index")) $("index").value = u.get("index");
  if (u.get("k")) $("k").value = u.get("k");
  if (u.get("q")) { $("q").value = u.get("q"); $("f").requestSubmit(); }
});
</script></body></html>
"""
