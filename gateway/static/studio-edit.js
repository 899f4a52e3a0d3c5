// Ethos Studio, corrections and shortcuts: edit a segment's text in place, split and merge
// segments, undo/redo, save as a new version of the result (PUT with If-Match: its ETag),
// earlier versions read-only; keyboard shortcuts. Tags and emotions of an edited segment come
// back from the server on save: the page holds no copy of the tag pattern or the rule.
"use strict";

// undo/redo: stacks of snapshots of the segments; saved: the snapshot the server holds.
const edit = { undo: [], redo: [], saved: "", etag: null, latest: 1, viewing: 1, busy: false };
state.edit = edit;

const snap = () => JSON.stringify(state.result.segments, jsonReplacer);
const dirty = () => state.result && snap() !== edit.saved;
const readonly = () => edit.viewing !== edit.latest;

// A result arrived from the server (open, version switch, save); ``latest``: it is the latest.
function editLoaded(got, latest) {
  edit.etag = got.etag; edit.viewing = got.result.version || 1;
  if (latest) edit.latest = edit.viewing;
  edit.saved = snap(); editError("");
  loadVersions();
  refreshEditBar();
}

async function loadVersions() {
  let vs;
  try { vs = await api(`/v1/jobs/${state.job.id}/versions`); } catch { return; }
  edit.latest = vs.latest;
  const sel = $("version"); sel.replaceChildren();
  for (const v of [...vs.versions].reverse()) {
    const o = el("option", "", `v${v.version}${v.version === 1 ? " · machine" : ""}${v.version === vs.latest ? " · latest" : ""}`);
    o.value = v.version; o.selected = v.version === edit.viewing; sel.append(o);
  }
  refreshEditBar();
}

function refreshEditBar() {
  document.body.classList.toggle("readonly", readonly());
  $("undo").disabled = readonly() || !edit.undo.length;
  $("redo").disabled = readonly() || !edit.redo.length;
  $("save").disabled = readonly() || !dirty() || edit.busy;
  const st = $("edit-status");
  if (readonly()) { st.textContent = `version ${edit.viewing} (read-only; the latest is v${edit.latest})`; st.className = ""; }
  else if (dirty()) { st.textContent = `${edit.undo.length} unsaved edit${edit.undo.length === 1 ? "" : "s"}`; st.className = "dirty"; }
  else { st.textContent = `saved · version ${edit.viewing}`; st.className = "ok"; }
}

function editError(msg) { $("edit-error").textContent = msg; $("edit-error").hidden = !msg; }

// One change to the segments: remember the state before it, apply it, draw again.
function change(fn) {
  if (readonly()) return;
  edit.undo.push(snap()); edit.redo = [];
  fn(state.result.segments);
  state.result.segments.forEach((s, i) => { s.id = i + 1; delete s._spans; });
  rerender(); refreshEditBar();
}

function restore(from, to) {
  if (readonly() || !from.length) return;
  to.push(snap());
  state.result.segments = JSON.parse(from.pop());
  rerender(); refreshEditBar();
}
const undo = () => restore(edit.undo, edit.redo);
const redo = () => restore(edit.redo, edit.undo);

function markEdited(seg) { seg.dirty = true; seg.tags = []; seg.emotion_track = []; }

// ------------------------------------------------------------------ in-place text edit
function segTools(seg) {
  const box = el("div", "tools");
  const mk = (label, aria, fn) => { const b = el("button", "", label); b.type = "button"; b.setAttribute("aria-label", aria); b.onmousedown = (e) => e.preventDefault(); b.onclick = fn; return b; };
  box.append(
    mk("✎", `edit the text of segment ${seg.id}`, () => startEdit(seg.id)),
    mk("✂", `split segment ${seg.id} at the caret (or its middle)`, () => splitAt(seg.id, caretIn(seg.id))),
  );
  if (seg.id < state.result.segments.length) box.append(mk("⤓", `merge segment ${seg.id} with the next`, () => mergeNext(seg.id)));
  return box;
}

function rowText(id) { return $("transcript").querySelector(`.seg[data-id="${id}"] .text`); }

function startEdit(id) {
  if (readonly()) return;
  const seg = state.result.segments[id - 1]; const box = rowText(id); if (!seg || !box) return;
  box.closest(".seg").classList.add("editing");
  box.textContent = seg.text;
  box.setAttribute("contenteditable", "plaintext-only"); box.setAttribute("aria-label", `text of segment ${id}; Enter saves the edit, Shift+Enter splits, Escape cancels`);
  box.focus();
  const r = document.createRange(); r.selectNodeContents(box); r.collapse(false);
  const sel = window.getSelection(); sel.removeAllRanges(); sel.addRange(r);
  let done = false;
  const finish = (keep) => {
    if (done) return; done = true;
    const text = box.textContent.replace(/\s+/g, " ").trim();
    box.removeAttribute("contenteditable"); box.closest(".seg").classList.remove("editing");
    if (keep && text !== seg.text) change((segs) => { segs[id - 1].text = text; markEdited(segs[id - 1]); });
    else { state.sweep = {}; update(); }
  };
  box.onkeydown = (e) => {
    if (e.key === "Escape") { e.preventDefault(); finish(false); }
    else if (e.key === "Enter" && e.shiftKey) { e.preventDefault(); const at = caretIn(id); const text = box.textContent; done = true; box.removeAttribute("contenteditable"); box.closest(".seg").classList.remove("editing"); splitAt(id, at, text); }
    else if (e.key === "Enter") { e.preventDefault(); finish(true); }
    e.stopPropagation();
  };
  box.onblur = () => finish(true);
}

// The caret's character offset in a segment being edited (null when not editing it).
function caretIn(id) {
  const box = rowText(id); const sel = window.getSelection();
  if (!box || !box.hasAttribute("contenteditable") || !sel.rangeCount || !box.contains(sel.anchorNode)) return null;
  const r = document.createRange(); r.selectNodeContents(box); r.setEnd(sel.anchorNode, sel.anchorOffset);
  return r.toString().length;
}

// Split a segment at a character offset (null: the space nearest its middle). The time of the
// cut is the start of the first timed word after it, else proportional to the characters.
function splitAt(id, at, textNow) {
  const seg = state.result.segments[id - 1]; if (!seg) return;
  const text = textNow != null ? textNow.replace(/\s+/g, " ").trim() : seg.text;
  if (at == null) { const mid = Math.floor(text.length / 2); const r = text.indexOf(" ", mid); const l = text.lastIndexOf(" ", mid); at = r < 0 ? l : l < 0 ? r : (r - mid < mid - l ? r : l); }
  const a = text.slice(0, at).trim(); const b = text.slice(at).trim();
  if (at <= 0 || !a || !b) { editError("Put the caret between two words to split there."); return; }
  editError("");
  const spans = text === seg.text ? wordSpans(seg) : [];
  const w = spans.find((s) => s.a >= at);
  let t = w ? w.start : seg.start + (seg.end - seg.start) * (at / Math.max(text.length, 1));
  t = Math.round(Math.min(Math.max(t, seg.start + 0.01), seg.end - 0.01) * 1000) / 1000;
  change((segs) => {
    const s = segs[id - 1]; const words = s.words || [];
    const first = { ...s, end: t, text: a, words: words.filter((x) => x.end <= t + 1e-6) };
    const second = { ...s, start: t, text: b, words: words.filter((x) => x.start >= t - 1e-6) };
    markEdited(first); markEdited(second);
    segs.splice(id - 1, 1, first, second);
  });
}

function mergeNext(id) {
  const segs = state.result.segments; if (id >= segs.length) return;
  change((segs) => {
    const a = segs[id - 1]; const b = segs[id];
    const merged = { ...a, end: Math.max(a.end, b.end), text: `${a.text} ${b.text}`.trim(), words: [...(a.words || []), ...(b.words || [])] };
    markEdited(merged);
    segs.splice(id - 1, 2, merged);
  });
}

// ------------------------------------------------------------------ save and versions
async function save() {
  if (!dirty() || readonly() || edit.busy) return;
  edit.busy = true; refreshEditBar(); editError("");
  const body = { segments: state.result.segments.map((s) => ({ start: s.start, end: s.end, text: s.text, speaker: s.speaker, words: s.words || [], language: s.language || null })) };
  try {
    const r = await fetch(`/v1/jobs/${state.job.id}/result`, { method: "PUT", body: JSON.stringify(body),
      headers: { ...authHeaders(), "Content-Type": "application/json", "If-Match": edit.etag || "" } });
    const b = await r.json();
    if (r.status === 412) return editError(`Not saved: ${b.error.message}. Your edits are still here; open the latest version to see the other changes.`);
    if (!r.ok) return editError(`Not saved: ${b.error ? b.error.message : `HTTP ${r.status}`}`);
    state.result = b; edit.latest = b.version;
    editLoaded({ result: b, etag: r.headers.get("ETag") }, true);
    rerender();
  } catch (e) { editError(`Not saved: ${e.message}`); }
  finally { edit.busy = false; refreshEditBar(); }
}

// Whether the open job may be left: no unsaved edits, or the user agrees to drop them.
function leaveOk() { return !(state.result && !readonly() && dirty()) || confirm("Leave your unsaved edits?"); }

async function showVersion(v) {
  if (!leaveOk()) { $("version").value = edit.viewing; return; }
  edit.undo = []; edit.redo = [];
  await openEditor(state.job, v === edit.latest ? null : v);
}

// ------------------------------------------------------------------ keyboard
function typing(t) { return t.closest && (t.closest("[contenteditable]") || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName)); }

function onKey(e) {
  if (!state.result || $("view-editor").hidden) return;
  const mod = e.ctrlKey || e.metaKey; const k = e.key.toLowerCase();
  if (mod && k === "s") { e.preventDefault(); save(); return; }
  if (typing(e.target)) return;
  if (mod && k === "z") { e.preventDefault(); e.shiftKey ? redo() : undo(); return; }
  if (mod && k === "y") { e.preventDefault(); redo(); return; }
  if (mod || e.altKey) return;
  const media = /^(VIDEO|AUDIO)$/.test(e.target.tagName); const button = /^(BUTTON|A)$/.test(e.target.tagName);
  const p = state.player; const seekBy = (d) => seek((p.currentTime || 0) + d);
  if ((k === " " && !media && !button) || k === "k") { e.preventDefault(); if (p.paused) p.play().catch((err) => { if (err.name !== "AbortError") throw err; }); else p.pause(); }
  else if (k === "arrowleft" && !media) { e.preventDefault(); seekBy(-5); }
  else if (k === "arrowright" && !media) { e.preventDefault(); seekBy(5); }
  else if (k === "j") seekBy(-10);
  else if (k === "l") seekBy(10);
  else if (k === "enter" && e.target.classList.contains("seg")) { e.preventDefault(); startEdit(Number(e.target.dataset.id)); }
}

$("undo").onclick = undo; $("redo").onclick = redo; $("save").onclick = save;
$("version").onchange = (e) => showVersion(Number(e.target.value));
$("transcript").addEventListener("dblclick", (e) => { const row = e.target.closest(".seg"); if (row && e.target.closest(".text")) startEdit(Number(row.dataset.id)); });
document.addEventListener("keydown", onKey);
