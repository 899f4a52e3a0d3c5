// Ethos Studio, counting speakers again: "Speakers: auto / 1 / 2 / 3 …" beside the speaker
// list. A choice posts POST /v1/jobs/{id}/speakers/recount (If-Match: the ETag shown); the
// server clusters the voices the job kept with that count and saves the result as a new
// version, which the page then shows. Text corrections are not carried over (the server
// starts from the machine transcript), so unsaved edits are confirmed first.
"use strict";

const renderSpeakerList = renderSpeakers;
// eslint-disable-next-line no-global-assign
renderSpeakers = function renderSpeakersWithCount() {
  renderSpeakerList();
  const r = state.result; if (!r || !r.models || !r.models.diarize) return;
  const box = el("span", "recount"); const label = el("label", "", "Speakers: ");
  const sel = el("select"); sel.id = "speaker-count"; sel.setAttribute("aria-label", "number of speakers");
  const n = (r.speakers || []).length;
  for (const v of ["auto", 1, 2, 3, 4, 5, 6, 7, 8]) {
    const o = el("option", "", String(v)); o.value = String(v); if (v === n) o.selected = true; sel.append(o);
  }
  sel.disabled = !!(state.edit && state.edit.viewing !== state.edit.latest);
  const note = el("span", "err"); note.id = "speaker-count-note";
  sel.addEventListener("change", () => recountSpeakers(sel, note));
  label.append(sel); box.append(label, note); $("speakers").append(box);
};

async function recountSpeakers(sel, note) {
  if (state.edit && dirty() && !confirm("Counting speakers again starts from the machine transcript: discard the unsaved edits?")) {
    rerender(); return;
  }
  const body = sel.value === "auto" ? {} : { num_speakers: Number(sel.value) };
  const headers = { "Content-Type": "application/json", ...authHeaders() };
  if (state.edit && state.edit.etag) headers["If-Match"] = state.edit.etag;
  sel.disabled = true; note.textContent = "counting…";
  let r; let out;
  try {
    r = await fetch(`/v1/jobs/${state.job.id}/speakers/recount`, { method: "POST", headers, body: JSON.stringify(body) });
    out = await r.json();
  } catch (e) { note.textContent = e.message; sel.disabled = false; return; }
  if (!r.ok) { note.textContent = out?.error?.message || `HTTP ${r.status}`; sel.disabled = false; return; }
  state.result = out;
  editLoaded({ result: out, etag: r.headers.get("ETag") }, true);
  rerender();
}
