// Vocal events (laughter, sighs, crying… and context: music, applause) on the timeline, in a
// legend, and on the valence/arousal chart where they stand between segments. Events inside a
// segment are inline tags already, so the chart follows them through the segment's track.
// The tag rows and colours come from the server (GET /v1/tags, kept by studio.js as tagTable).
"use strict";

function vocalName(e) { return e.tag || String(e.label || "").toLowerCase(); }

function vocalRow(tag) {
  const table = window.tagTable;
  return tag && table ? table.tags.find((r) => r.tags.includes(tag)) || null : null;
}

function vocalColour(e) {
  const row = vocalRow(e.tag);
  return row ? COLORS[row.emotion] || "#9aa3b5" : "#6b7385";
}

function vocalTitle(e) {
  const row = vocalRow(e.tag);
  const where = e.segment != null ? ` · in segment ${e.segment}` : " · between segments";
  const emo = row ? ` · ${row.emotion}` : " · context, no emotion";
  return `${vocalName(e)} ${fmtShort(e.start)}–${fmtShort(e.end)} (${e.label}, ${Math.round(e.score * 100)}%, ${e.source})${emo}${where}`;
}

// One mark per event under the segment blocks; a click seeks to it (the timeline's own handler).
function vocalTimeline(track, r, pps) {
  for (const e of r.events || []) {
    const m = el("div", `vocal-mark ${e.tag ? "vocal" : "context"}`);
    m.dataset.tag = vocalName(e);
    m.dataset.start = e.start;
    m.style.left = `${e.start * pps}px`;
    m.style.width = `${Math.max(4, (e.end - e.start) * pps)}px`;
    m.style.background = vocalColour(e);
    m.title = vocalTitle(e);
    m.setAttribute("role", "img");
    m.setAttribute("aria-label", m.title);
    track.append(m);
  }
  vocalLegend(r);
}

// The marks' colours: each sound heard, how often, its emotion from the tag table.
function vocalLegend(r) {
  const box = $("vocal-legend");
  if (!box) return;
  box.replaceChildren();
  const events = r.events || [];
  box.hidden = !events.length;
  if (!events.length) return;
  const seen = new Map();
  for (const e of events) {
    const k = vocalName(e);
    const c = seen.get(k) || { n: 0, e };
    c.n += 1;
    seen.set(k, c);
  }
  box.append(el("span", "legend-title", "Sounds:"));
  for (const [k, c] of seen) {
    const row = vocalRow(c.e.tag);
    const item = el("span", "legend-item");
    item.dataset.tag = k;
    const sw = el("i", "swatch");
    sw.style.background = vocalColour(c.e);
    item.title = row ? `[${k}] → ${row.emotion}, valence ${row.valence}, arousal ${row.arousal}` : `${k}: context, no emotion`;
    item.append(sw, document.createTextNode(`${k} ×${c.n}`));
    box.append(item);
  }
}

// Standalone vocal events move the chart too: their tag's valence and arousal over their span.
function vocalChart(g, r, W, H, dpr) {
  const dur = Math.max(r.duration, 1e-6);
  for (const e of r.events || []) {
    const row = e.segment == null ? vocalRow(e.tag) : null;
    if (!row) continue;
    const x0 = (e.start / dur) * W;
    const x1 = Math.max(x0 + 3 * dpr, (e.end / dur) * W);
    for (const [key, color] of [["valence", "#6fdc8c"], ["arousal", "#ff9f43"]]) {
      const y = H / 2 - row[key] * (H / 2 - 6 * dpr);
      g.strokeStyle = color;
      g.lineWidth = 2 * dpr;
      g.beginPath();
      g.moveTo(x0, H / 2);
      g.lineTo(x0, y);
      g.lineTo(x1, y);
      g.lineTo(x1, H / 2);
      g.stroke();
    }
  }
}
