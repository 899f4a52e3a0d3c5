// Ethos Studio: upload, live progress over the websocket, and an editor that plays the
// media against the transcript. No build step, no CDN: plain DOM and one canvas.
"use strict";
const $ = (id) => document.getElementById(id);
const EXTS = ["flac", "wav", "mp3", "m4a", "aac", "ogg", "opus", "webm", "mp4", "mov", "mkv", "avi", "mpeg", "mpg", "wma", "aiff", "amr"];
// Tags, emotions and their colours come from the server (GET /v1/tags); the page holds no copy.
let COLORS = {};

const state = { job: null, result: null, limits: null, pps: null, ws: null, player: null,
  activeId: null, sweep: {}, raf: 0, chartBase: null, pollTimer: 0 };
window.studio = state;

// The API key, when the server needs one (it answers 401): asked for once, kept in
// localStorage, sent as "Authorization: Bearer"; the websocket gets it as a subprotocol and the
// <audio>/<video> element (which cannot send headers) through a SameSite=Strict cookie that the
// gateway accepts on GET requests only.
const KEY_ITEM = "ethos.apiKey";
function apiKey() { return localStorage.getItem(KEY_ITEM) || ""; }
function setKey(key) {
  if (key) localStorage.setItem(KEY_ITEM, key); else localStorage.removeItem(KEY_ITEM);
  document.cookie = `ethos_key=${encodeURIComponent(key)}; path=/v1/; SameSite=Strict${location.protocol === "https:" ? "; Secure" : ""}${key ? "" : "; max-age=0"}`;
}
function authHeaders() { const k = apiKey(); return k ? { Authorization: `Bearer ${k}` } : {}; }
function askKey(why) {
  const key = (window.prompt(`${why}\nThis Ethos server needs an API key (ask its operator for one):`, "") || "").trim();
  setKey(key); return !!key;
}

async function api(path, opts, retried) {
  const sent = apiKey();
  const o = { ...(opts || {}) }; o.headers = { ...(o.headers || {}), ...authHeaders() };
  const r = await fetch(path, o);
  const body = r.headers.get("content-type")?.includes("json") ? await r.json() : await r.text();
  if (r.status === 401 && !retried && (apiKey() !== sent || askKey(body?.error?.message || ""))) return api(path, opts, true);
  if (!r.ok) { const e = new Error(body?.error?.message || `HTTP ${r.status}`); e.status = r.status; throw e; }
  return body;
}
const fmt = (t) => { t = Math.max(0, t || 0); const m = Math.floor(t / 60); const s = t - m * 60; return `${m}:${s.toFixed(1).padStart(4, "0")}`; };
const fmtShort = (t) => { const m = Math.floor(t / 60); const s = Math.round(t - m * 60); return `${m}:${String(s).padStart(2, "0")}`; };
function show(view) { for (const v of ["empty", "progress", "editor"]) $(`view-${v}`).hidden = v !== view; }
function el(tag, cls, text) { const e = document.createElement(tag); if (cls) e.className = cls; if (text != null) e.textContent = text; return e; }

// ------------------------------------------------------------------ start-up
async function init() {
  if (apiKey()) setKey(apiKey());  // refresh the media cookie
  const [tags, limits] = await Promise.all([api("/v1/tags"), api("/v1/limits")]);
  COLORS = tags.colours;
  const sheet = document.createElement("style");
  sheet.textContent = Object.entries(COLORS).map(([e, c]) => `.e-${e} { color: ${c}; }`).join("\n");
  document.head.append(sheet);
  state.limits = limits;
  const drop = $("drop");
  $("file").addEventListener("change", (e) => e.target.files[0] && upload(e.target.files[0]));
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); if (e.dataTransfer.files[0]) upload(e.dataTransfer.files[0]); });
  $("zoom-in").onclick = () => zoom(1.6);
  $("zoom-out").onclick = () => zoom(1 / 1.6);
  $("tl-inner").addEventListener("click", (e) => { const r = $("tl-inner").getBoundingClientRect(); seek((e.clientX - r.left) / state.pps); });
  $("transcript").addEventListener("click", onTranscriptClick);
  window.addEventListener("resize", () => state.result && (renderTimeline(), drawChartBase()));
  readiness(); setInterval(readiness, 10000);
  await refreshRecent(); setInterval(refreshRecent, 8000);
  const m = location.hash.match(/job=([\w-]+)/);
  if (m) openJob(m[1]); else show("empty");
}

async function readiness() {
  try {
    const r = await fetch("/readyz"); const b = await r.json();
    const bad = Object.entries(b.dependencies).filter(([, d]) => d.state !== "ok").map(([k, d]) => `${k}: ${d.state}`);
    $("ready").textContent = bad.length ? bad.join(", ") : "ready"; $("ready").className = "ready " + (bad.length ? "bad" : "ok");
  } catch { $("ready").textContent = "gateway unreachable"; $("ready").className = "ready bad"; }
}

async function refreshRecent() {
  let jobs;
  try { jobs = (await api("/v1/jobs?limit=30")).jobs; } catch { return; }
  const ul = $("recent"); ul.replaceChildren();
  for (const j of jobs) {
    const li = el("li"); li.dataset.id = j.id;
    if (state.job && state.job.id === j.id) li.classList.add("current");
    li.append(el("span", "name", j.media.filename), el("span", `st ${j.status}`, j.status === "running" ? `${Math.round(j.progress * 100)}%` : j.status));
    li.onclick = () => leaveOk() && openJob(j.id);
    ul.append(li);
  }
}

// ------------------------------------------------------------------ upload
function uploadError(msg) { const e = $("upload-error"); e.textContent = msg; e.hidden = !msg; }

function upload(file) {
  uploadError("");
  const ext = (file.name.split(".").pop() || "").toLowerCase();
  if (!/^(audio|video)\//.test(file.type) && !EXTS.includes(ext)) return uploadError(`${file.name} is not an audio or video file`);
  if (file.size === 0) return uploadError(`${file.name} is empty`);
  if (state.limits && file.size > state.limits.max_upload_bytes)
    return uploadError(`${file.name} is ${(file.size / 2 ** 20).toFixed(0)} MiB; the limit is ${(state.limits.max_upload_bytes / 2 ** 20).toFixed(0)} MiB`);
  const fd = new FormData(); fd.append("file", file);
  const xhr = new XMLHttpRequest();
  show("progress"); $("p-name").textContent = file.name; $("p-error").hidden = true; $("p-segments").replaceChildren();
  setProgress("uploading", 0);
  xhr.upload.onprogress = (e) => e.lengthComputable && setProgress("uploading", e.loaded / e.total);
  xhr.onload = () => {
    let body = {}; try { body = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
    if (xhr.status === 202) { refreshRecent(); openJob(body.id); }
    else if (xhr.status === 401 && askKey(body?.error?.message || "")) upload(file);
    else { show("empty"); uploadError(body?.error?.message || `upload failed (HTTP ${xhr.status})`); }
  };
  xhr.onerror = () => { show("empty"); uploadError("upload failed: the gateway did not answer"); };
  xhr.open("POST", "/v1/jobs");
  for (const [k, v] of Object.entries(authHeaders())) xhr.setRequestHeader(k, v);
  xhr.send(fd);
}

// ------------------------------------------------------------------ progress
const STAGES = { preview: "making a browser-playable preview", extracting_audio: "extracting audio" };
function setProgress(stage, p) { $("p-stage").textContent = STAGES[stage] || stage; $("p-pct").textContent = `${Math.round(p * 100)}%`; $("p-bar").style.width = `${p * 100}%`; }

async function openJob(id) {
  closeJob();
  let job;
  try { job = await api(`/v1/jobs/${id}`); } catch (e) { show("empty"); return uploadError(e.message); }
  state.job = job; history.replaceState(null, "", `#job=${id}`);
  for (const li of $("recent").children) li.classList.toggle("current", li.dataset.id === id);
  if (job.status === "succeeded") return openEditor(job);
  show("progress"); $("p-name").textContent = job.media.filename; $("p-segments").replaceChildren();
  setProgress(job.stage, job.progress);
  if (job.status === "failed" || job.status === "canceled") return progressError(job.error ? job.error.message : `job ${job.status}`);
  $("p-error").hidden = true;
  follow(job);
}

function progressError(msg) { $("p-error").textContent = msg; $("p-error").hidden = false; }

function follow(job) {
  const protocols = apiKey() ? ["ethos", `ethos.key.${apiKey()}`] : undefined;
  const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/v1/jobs/${job.id}/events`, protocols);
  state.ws = ws; let finished = false;
  ws.onmessage = (m) => {
    const e = JSON.parse(m.data);
    if (e.type === "progress") setProgress(e.stage, e.progress);
    else if (e.type === "status") $("p-stage").textContent = e.status === "running" ? e.stage : e.status;
    else if (e.type === "segment") { const li = el("li"); li.append(el("span", "t", fmt(e.start)), document.createTextNode(e.text)); $("p-segments").append(li); }
    else if (e.type === "error") { finished = true; progressError(e.message); refreshRecent(); }
    else if (e.type === "done") { finished = true; setProgress("done", 1); refreshRecent(); openJob(job.id); }
  };
  ws.onclose = () => { if (!finished && state.ws === ws) state.pollTimer = setTimeout(() => openJob(job.id), 1500); };
}

// Everything drawn from the result, again (after a load, an edit, an undo or a save).
function rerender() {
  const result = state.result; const v = state.edit.viewing;
  const base = `/v1/jobs/${state.job.id}/result`; const q = v && v !== state.edit.latest ? `&version=${v}` : "";
  const blob = new Blob([JSON.stringify(result, jsonReplacer, 2)], { type: "application/json" });
  $("x-json").href = URL.createObjectURL(blob); $("x-json").download = `${stem(result.filename)}.json`;
  $("x-srt").href = `${base}?format=srt${q}`; $("x-vtt").href = `${base}?format=vtt${q}`;
  state.sweep = {}; state.activeId = null;
  renderSpeakers(); renderTranscript(); renderTimeline(); drawChartBase(); update();
}
const jsonReplacer = (k, v) => (k.startsWith("_") || k === "dirty" ? undefined : v);

function closeJob() {
  if (state.ws) { const ws = state.ws; state.ws = null; ws.close(); }
  clearTimeout(state.pollTimer); cancelAnimationFrame(state.raf);
  for (const p of [$("video"), $("audio")]) { p.pause(); if (p.hasAttribute("src")) { p.removeAttribute("src"); p.load(); } p.hidden = true; }
  state.result = null; state.activeId = null; state.sweep = {};
  if (state.edit) { state.edit.undo = []; state.edit.redo = []; }
}

// ------------------------------------------------------------------ editor
// The result at a version (null: the latest) with its ETag, for corrections (studio-edit.js).
async function fetchResult(id, version) {
  const r = await fetch(`/v1/jobs/${id}/result${version ? `?version=${version}` : ""}`, { headers: authHeaders() });
  const body = await r.json();
  if (!r.ok) throw new Error(body?.error?.message || `HTTP ${r.status}`);
  return { result: body, etag: r.headers.get("ETag") };
}

async function openEditor(job, version) {
  let got;
  try { got = await fetchResult(job.id, version); } catch (e) { show("progress"); return progressError(e.message); }
  const result = got.result;
  state.result = result; show("editor"); editLoaded(got, !version);
  const player = result.has_video ? $("video") : $("audio");
  // The preview when the server made one (the upload's codecs are not browser-playable).
  const src = job.links.preview || job.links.media;
  state.player = player; player.hidden = false;
  if (player.getAttribute("src") !== src) player.src = src;
  $("x-orig").href = job.links.media; $("x-orig").download = job.media.filename;
  $("e-name").textContent = `${result.filename} · ${fmt(result.duration)} · ${result.segments.length} segments · ${result.models.stt ? result.models.stt.engine : "no speech"}${job.links.preview ? " · preview" : ""}`;
  $("face-row").hidden = !result.has_video;
  state.pps = null; rerender();
  player.onplay = () => { document.body.classList.add("playing"); $("live-label").textContent = "live"; loop(); };
  player.onpause = player.onended = () => { document.body.classList.remove("playing"); $("live-label").textContent = "paused"; update(); };
  player.ontimeupdate = player.onseeked = () => update();
  update();
}
const stem = (n) => n.replace(/\.[^.]+$/, "") || "transcript";
function loop() { update(); if (!state.player.paused) state.raf = requestAnimationFrame(loop); }
function seek(t) { const p = state.player; if (!p) return; p.currentTime = Math.max(0, Math.min(t, state.result.duration)); update(); }

// Segment text as runs of plain text (with their char offsets) and tag pills, at the
// positions the server found the tags (each tag runs from its "[" to the next "]").
function parts(seg) {
  const out = []; let last = 0;
  for (const tag of [...seg.tags].sort((a, b) => a.char - b.char)) {
    if (tag.char < last) continue;
    const close = seg.text.indexOf("]", tag.char);
    if (close < 0) continue;
    if (tag.char > last) out.push({ text: seg.text.slice(last, tag.char), off: last });
    out.push({ tag, off: tag.char, len: close + 1 - tag.char });
    last = close + 1;
  }
  if (last < seg.text.length) out.push({ text: seg.text.slice(last), off: last });
  return out;
}

function renderSegText(seg, played) {
  const box = document.createDocumentFragment();
  for (const p of parts(seg)) {
    if (p.tag) {
      const pill = el("span", `pill${p.tag.emotion ? " known e-" + p.tag.emotion : ""}`, p.tag.tag);
      pill.dataset.time = p.tag.time; pill.title = p.tag.emotion ? `${p.tag.emotion} · valence ${p.tag.valence} · arousal ${p.tag.arousal}` : "unknown tag";
      box.append(pill); continue;
    }
    const cut = Math.max(0, Math.min(p.text.length, played - p.off));
    if (cut > 0) { const s = el("span", "played", p.text.slice(0, cut)); s.dataset.off = p.off; box.append(s); }
    if (cut < p.text.length) { const s = el("span", "", p.text.slice(cut)); s.dataset.off = p.off + cut; box.append(s); }
  }
  return box;
}

function renderTranscript() {
  const root = $("transcript"); root.replaceChildren();
  if (!state.result.segments.length) root.append(el("p", "hint", state.result.has_video ? "No speech in this recording (faces only)." : "No speech found in this recording."));
  for (const seg of state.result.segments) {
    const row = el("div", "seg future"); row.dataset.id = seg.id; if (seg.truncated) row.classList.add("trunc");
    row.tabIndex = 0; row.setAttribute("role", "listitem");
    row.setAttribute("aria-label", `segment ${seg.id}, ${fmt(seg.start)} to ${fmt(seg.end)}${seg.speaker ? ", " + seg.speaker : ""}`);
    const time = el("div", "time", `${fmt(seg.start)}`); time.dataset.time = seg.start;
    row.classList.add(speakerClass(seg.speaker)); time.append(el("span", "who", speakerName(seg.speaker)));
    const text = el("div", "text"); text.append(renderSegText(seg, 0));
    const emo = seg.dirty ? el("div", "emo", "edited · unsaved")
      : el("div", `emo e-${seg.emotion}`, seg.face_emotion ? `${seg.emotion} · face ${seg.face_emotion}` : seg.emotion);
    if (seg.dirty) row.classList.add("dirty");
    row.append(time, text, emo, segTools(seg)); root.append(row);
  }
}

function onTranscriptClick(e) {
  if (e.target.closest(".tools, [contenteditable]")) return;
  const pill = e.target.closest(".pill");
  if (pill) return seek(parseFloat(pill.dataset.time) - 0.05);
  const row = e.target.closest(".seg"); if (!row) return;
  const seg = state.result.segments.find((s) => s.id === Number(row.dataset.id));
  if (e.target.closest(".time")) return seek(seg.start);
  const range = document.caretRangeFromPoint ? document.caretRangeFromPoint(e.clientX, e.clientY) : null;
  let char = 0;
  if (range && range.startContainer.nodeType === Node.TEXT_NODE && range.startContainer.parentElement.dataset.off != null)
    char = Number(range.startContainer.parentElement.dataset.off) + range.startOffset;
  const spans = wordSpans(seg);
  if (spans.length) {  // timed words: the clicked word (or the next one) from its start
    const hit = spans.find((w) => char < w.b) || spans[spans.length - 1];
    return seek(hit.start);
  }
  seek(seg.start + (seg.end - seg.start) * (char / Math.max(seg.text.length, 1)));
}

// Each timed word's character range in the segment text, found left to right as the server
// does for tag times (a word not found in the text is skipped). Cached per segment.
function wordSpans(seg) {
  if (seg._spans) return seg._spans;
  const out = []; let cursor = 0;
  for (const w of seg.words || []) {
    const token = w.word.trim(); const at = token ? seg.text.indexOf(token, cursor) : -1;
    if (at < 0) continue;
    out.push({ a: at, b: at + token.length, start: w.start, end: w.end });
    cursor = at + token.length;
  }
  seg._spans = out;
  return out;
}

// How many characters of a segment have been heard at time t: word by word when the engine
// timed words (a word lights up as it starts), else in proportion to the elapsed time.
function playedChars(seg, t) {
  const spans = wordSpans(seg);
  if (!spans.length) return Math.floor(seg.text.length * (t - seg.start) / (seg.end - seg.start));
  let played = 0;
  for (const w of spans) { if (w.start <= t + 0.001) played = w.b; else break; }
  return played;
}

// The emotion at time t: the server's segment rule over the tags heard so far (its
// emotion_track), Neutral before the first tag.
function speechAt(t) {
  const seg = state.result.segments.find((s) => s.start <= t && t < s.end);
  if (!seg) return { seg: null, emotion: null, valence: 0, arousal: 0 };
  const heard = (seg.emotion_track || []).filter((p) => p.time <= t);
  const p = heard[heard.length - 1];
  return p ? { seg, emotion: p.emotion, valence: p.valence, arousal: p.arousal } : { seg, emotion: "Neutral", valence: 0, arousal: 0 };
}

function setBar(id, v) {
  const b = $(id); const w = Math.min(Math.abs(v), 1) * 50;
  b.style.left = `${v >= 0 ? 50 : 50 - w}%`; b.style.width = `${w}%`;
  $(id.replace("-bar", "-num")).textContent = v.toFixed(2);
}

function update() {
  const r = state.result; if (!r) return;
  const t = state.player.currentTime || 0;
  $("clock").textContent = `${fmt(t)} / ${fmt(r.duration)}`;
  const sp = speechAt(t);
  const activeId = sp.seg ? sp.seg.id : null;
  for (const row of $("transcript").children) {
    if (!row.dataset.id || row.classList.contains("editing")) continue;
    const seg = r.segments[Number(row.dataset.id) - 1];
    const cls = seg.id === activeId ? "active" : seg.end <= t ? "past" : "future";
    if (!row.classList.contains(cls)) { row.classList.remove("past", "active", "future"); row.classList.add(cls); }
    const played = cls === "past" ? seg.text.length : cls === "future" ? 0 : playedChars(seg, t);
    if (state.sweep[seg.id] !== played) { state.sweep[seg.id] = played; row.querySelector(".text").replaceChildren(renderSegText(seg, played)); }
  }
  if (activeId !== state.activeId) {
    state.activeId = activeId;
    const row = $("transcript").querySelector(`.seg[data-id="${activeId}"]`);
    if (row) { const box = $("transcript"); const top = row.offsetTop - box.offsetTop; if (top < box.scrollTop || top > box.scrollTop + box.clientHeight - row.clientHeight) box.scrollTo({ top: top - 40, behavior: "smooth" }); }
    for (const b of document.querySelectorAll(".seg-block")) b.classList.toggle("active", Number(b.dataset.id) === activeId);
  }
  const badge = $("speech-badge"); badge.textContent = sp.emotion || "—"; badge.className = `badge${sp.emotion ? " e-" + sp.emotion : ""}`;
  setBar("valence-bar", sp.valence); setBar("arousal-bar", sp.arousal);
  if (r.has_video) {
    const face = (r.face_emotion_timeline || {})[String(Math.floor(t))] || null;
    const fb = $("face-badge"); fb.textContent = face || "no face"; fb.className = `badge${face ? " e-" + face : ""}`;
  }
  const x = t * state.pps;
  $("playhead").style.left = `${x}px`; $("played").style.width = `${x}px`;
  const tl = $("timeline");
  if (!state.player.paused && (x < tl.scrollLeft || x > tl.scrollLeft + tl.clientWidth - 20)) tl.scrollLeft = x - 40;
  drawChart(t);
}

// ------------------------------------------------------------------ speakers
// Each speaker's colour follows its order in result.speakers (first appearance); a rename is
// stored with the job (PATCH /v1/jobs/{id}/speakers), so exports and other clients see it.
function speakerIndex(id) { const i = (state.result.speakers || []).findIndex((s) => s.id === id); return i < 0 ? 0 : i; }
function speakerClass(id) { return `spk-${speakerIndex(id) % 8}`; }
function speakerName(id) { const s = (state.result.speakers || []).find((x) => x.id === id); return (s && s.name) || id; }

function renderSpeakers() {
  const root = $("speakers"); root.replaceChildren();
  for (const spk of state.result.speakers || []) {
    const row = el("label", `speaker ${speakerClass(spk.id)}`); row.dataset.speaker = spk.id;
    const input = el("input"); input.value = spk.name || ""; input.placeholder = spk.id; input.maxLength = 80;
    input.setAttribute("aria-label", `name of ${spk.id}`);
    const err = el("span", "err");
    input.addEventListener("keydown", (e) => { if (e.key === "Enter") input.blur(); });
    input.addEventListener("change", () => renameSpeaker(spk.id, input.value, err));
    row.append(input, el("i", "", `${fmt(spk.total_speech_s)}`), err);
    root.append(row);
  }
}

async function renameSpeaker(id, name, err) {
  err.textContent = "";
  if (!name.trim()) return;
  try {
    const r = await api(`/v1/jobs/${state.job.id}/speakers`, { method: "PATCH",
      headers: { "Content-Type": "application/json" }, body: JSON.stringify({ names: { [id]: name } }) });
    state.result.speakers = r.speakers;
  } catch (e) { err.textContent = e.message; return; }
  rerender();
}

// ------------------------------------------------------------------ timeline
function zoom(f) { state.pps = Math.min(400, Math.max(1, state.pps * f)); renderTimeline(); update(); }

function renderTimeline() {
  const r = state.result; const width = $("timeline").clientWidth || 800;
  if (!state.pps) state.pps = Math.max(width / Math.max(r.duration, 1), 0.5);
  const inner = $("tl-inner"); inner.style.width = `${Math.max(width, r.duration * state.pps)}px`;
  $("zoom-label").textContent = `${state.pps.toFixed(state.pps < 10 ? 1 : 0)} px/s`;
  const steps = [0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600];
  const step = steps.find((s) => s * state.pps >= 56) || 3600;
  const ruler = $("ruler"); ruler.replaceChildren();
  for (let t = 0; t <= r.duration + 1e-6; t += step) { const k = el("div", "tick", fmtShort(t)); k.style.left = `${t * state.pps}px`; ruler.append(k); }
  const track = $("track"); track.replaceChildren($("played"));
  for (const s of r.segments) {
    const b = el("div", `seg-block e-${s.emotion} ${speakerClass(s.speaker)}`, s.text.slice(0, 60)); b.dataset.id = s.id;
    b.title = speakerName(s.speaker);
    b.style.left = `${s.start * state.pps}px`; b.style.width = `${Math.max(2, (s.end - s.start) * state.pps)}px`;
    if (s.id === state.activeId) b.classList.add("active");
    track.append(b);
  }
}

// ------------------------------------------------------------------ chart
function drawChartBase() {
  const r = state.result; const cv = $("chart"); const dpr = window.devicePixelRatio || 1;
  cv.width = cv.clientWidth * dpr; cv.height = 120 * dpr;
  const off = document.createElement("canvas"); off.width = cv.width; off.height = cv.height;
  const g = off.getContext("2d"); const W = off.width, H = off.height;
  g.strokeStyle = "#2a2f3a"; g.beginPath(); g.moveTo(0, H / 2); g.lineTo(W, H / 2); g.stroke();
  const n = Math.max(2, Math.floor(W / 2));
  for (const [key, color] of [["valence", "#6fdc8c"], ["arousal", "#ff9f43"]]) {
    g.strokeStyle = color; g.lineWidth = 2 * dpr; g.beginPath();
    for (let i = 0; i <= n; i++) { const t = (i / n) * r.duration; const v = speechAt(t)[key]; const y = H / 2 - v * (H / 2 - 6 * dpr); i ? g.lineTo((i / n) * W, y) : g.moveTo(0, y); }
    g.stroke();
  }
  g.fillStyle = "#8b93a7"; g.font = `${10 * dpr}px system-ui`; g.fillText("valence", 6 * dpr, 12 * dpr); g.fillStyle = "#ff9f43"; g.fillText("arousal", 56 * dpr, 12 * dpr);
  state.chartBase = off;
  const strip = $("face-strip"); strip.replaceChildren(); strip.hidden = !r.has_video;
  if (r.has_video) for (let s = 0; s < Math.ceil(r.duration); s++) {
    const lab = (r.face_emotion_timeline || {})[String(s)]; const d = el("div"); d.dataset.second = s;
    d.style.background = lab ? COLORS[lab] || "#666" : "transparent"; d.title = `${fmtShort(s)} ${lab || "no face"}`; strip.append(d);
  }
  faceLegend(r); chartNote(r);
}

// The face strip's colours: each label the timeline holds (most seconds first), and "no face".
function faceLegend(r) {
  const box = $("face-legend"); box.replaceChildren(); box.hidden = !r.has_video;
  if (!r.has_video) return;
  const counts = {};
  for (const lab of Object.values(r.face_emotion_timeline || {})) counts[lab] = (counts[lab] || 0) + 1;
  const secs = Math.ceil(r.duration); const none = secs - Object.values(counts).reduce((a, b) => a + b, 0);
  box.append(el("span", "legend-title", "Face:"));
  for (const [lab, n] of Object.entries(counts).sort((a, b) => b[1] - a[1])) {
    const item = el("span", "legend-item"); item.dataset.label = lab;
    const sw = el("i", "swatch"); sw.style.background = COLORS[lab] || "#666";
    item.append(sw, document.createTextNode(`${lab} ${n} s`)); box.append(item);
  }
  if (none > 0) { const item = el("span", "legend-item"); item.dataset.label = "none"; item.append(el("i", "swatch none"), document.createTextNode(`no face ${none} s`)); box.append(item); }
}

// Why the valence/arousal chart is flat: no tags, and which engine wrote none.
function chartNote(r) {
  const note = $("chart-note"); const tags = r.segments.reduce((n, s) => n + (s.tags || []).length, 0);
  const engine = r.models.stt ? r.models.stt.engine : null;
  if (!r.segments.length) note.textContent = "No speech in this recording, so there is no speech emotion to chart.";
  else if (!tags) note.textContent = `Flat: this transcript has no tags such as [laughs] or [sighs], and valence and arousal come only from tags. ${engine === "voxtral" ? "The model heard none." : `The ${engine || "speech"} engine writes no tags (Voxtral with the evoxtral adapter, on a GPU, does).`} You can add tags by editing a segment's text.`;
  note.hidden = !(!r.segments.length || !tags);
}

function drawChart(t) {
  const cv = $("chart"); if (!state.chartBase) return; const g = cv.getContext("2d");
  g.clearRect(0, 0, cv.width, cv.height); g.drawImage(state.chartBase, 0, 0);
  const x = (t / Math.max(state.result.duration, 1e-6)) * cv.width;
  g.strokeStyle = "#7c9cff"; g.lineWidth = 2; g.beginPath(); g.moveTo(x, 0); g.lineTo(x, cv.height); g.stroke();
}

init();
