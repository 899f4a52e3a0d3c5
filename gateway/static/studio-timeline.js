// Ethos Studio, the timeline (segment blocks, ruler, zoom) and the valence/arousal chart with
// the face strip and its legend.
"use strict";

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
  // Half seconds keep their tenths ("0:00.5"), else two ticks would both read "0:01".
  for (let i = 0; i * step <= r.duration + 1e-6; i++) { const t = i * step; const k = el("div", "tick", t % 1 ? fmt(t) : fmtShort(t)); k.style.left = `${t * state.pps}px`; ruler.append(k); }
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
