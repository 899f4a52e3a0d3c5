// Ethos Studio, the transcript: segment text with tag pills and the played sweep, click to
// seek, the playhead's sync of transcript, emotion panel and timeline (update), speakers.
"use strict";

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
    if (seg.language) { time.append(el("span", "lang", seg.language)); text.lang = state.result.task === "translate" ? "en" : seg.language; }
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
