// Ethos Studio: upload, live progress over the websocket, and an editor that plays the
// media against the transcript. No build step, no CDN: plain DOM and one canvas.
// This file: shared state and helpers, start-up, upload, progress, opening a job. The rest, in
// index.html's order: studio-transcript.js (transcript, playhead, speakers), studio-timeline.js
// (timeline and chart), studio-edit.js (corrections and shortcuts). Classic scripts sharing one
// global scope; start-up (init) waits until all of them have run.
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
const fmtShort = (t) => { const r = Math.round(Math.max(0, t || 0)); return `${Math.floor(r / 60)}:${String(r % 60).padStart(2, "0")}`; };
function show(view) { for (const v of ["empty", "progress", "editor"]) $(`view-${v}`).hidden = v !== view; }
function el(tag, cls, text) { const e = document.createElement(tag); if (cls) e.className = cls; if (text != null) e.textContent = text; return e; }

// ------------------------------------------------------------------ start-up
// The first requests go out as soon as this file runs; what follows them waits until every
// Studio script has run too (index.html loads them in order at the end of <body>).
const scriptsLoaded = new Promise((ok) => document.addEventListener("DOMContentLoaded", ok, { once: true }));
async function init() {
  if (apiKey()) setKey(apiKey());  // refresh the media cookie
  const [tags, limits] = await Promise.all([api("/v1/tags"), api("/v1/limits"), scriptsLoaded]);
  COLORS = tags.colours; window.tagTable = tags;
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
  window.addEventListener("resize", () => state.result && (renderTimeline(), drawChartBase(), update()));
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

init();
