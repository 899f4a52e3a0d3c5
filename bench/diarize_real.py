"""Diarization on the real-speech set (``evaluation/sets/real``, ``python -m evaluation.realset``).

For every clip: the diarize step alone (VAD regions → windows → embeddings and the
segmentation model's frames → count → turns and overlaps) with the automatic count, and with
the true count given; the speaker count, the DER (0.25-s collar, overlap scored: each overlap
adds its second voice) where the clip has reference turns, and the step's speed
(wall clock and CPU time of the automatic-count runs, the first clip including the encoder's
load and scipy's first import).
Per group (one voice / two people / meetings): count accuracy (meetings: within ±1) and the
DER over the group (errors summed over the reference speech).

    .venv/bin/python bench/diarize_real.py [--set evaluation/sets/real/manifest.jsonl] [--step 0.5]
        [--encoder resemblyzer|campplus|fused] [--no-channels] [--one-voice 0.7] [--far 0.85] [--split 0.7]
        [--sweep 0.5,0.6/0.4,0.5] [--sweep 0.5,0.6/0.6,0.7/0.4,0.5] [--no-overlap] [--overlap-step 10]

``--sweep ONE,…/SPLIT,…`` (or ``ONE,…/FAR,…/SPLIT,…``) embeds each clip once and prints the
groups' count accuracy and DER for every combination of count thresholds (the speed figure
is the embedding run's).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from evaluation.der import der
from evaluation.manifest import media_folder
from shared.schemas import DiarizeOutput
from shared.settings import DiarizeSettings, Settings
from workers.cpu import media
from workers.diarize import channels
from workers.diarize.cluster import SpeakerCount
from workers.diarize.embed import embed_windows
from workers.diarize.pipeline import analyse, count_settings, label
from workers.diarize.segmentation import segment

SR = 16000


def load_audio(path: Path) -> np.ndarray:
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-ac", "1", "-ar", str(SR), "-f", "s16le", "-"],
                         check=True, capture_output=True).stdout
    return np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768


def channel_levels(path: Path) -> np.ndarray | None:
    """A two-channel file's levels as prepare keeps them (``workers.cpu.media``), else None."""
    if media.probe(path, path.name).audio_channels != 2:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        stereo = Path(tmp) / "stereo.wav"
        media.extract_audio(path, Path(tmp) / "mono.wav", path.name, None, 4 * 3600, stereo)
        return media.channel_levels(stereo)


def hypothesis(out: DiarizeOutput) -> list[tuple[str, float, float]]:
    """The turns, and each overlap's speakers over its span (the scorer counts a speaker once)."""
    return ([(t.speaker, t.start, t.end) for t in out.turns]
            + [(s, o.start, o.end) for o in out.overlaps for s in o.speakers])


def count_ok(group: str, got: int, true: int) -> bool:
    return got == 1 if group == "one" else got == 2 if group == "two" else abs(got - true) <= 1


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--set", type=Path, default=Path("evaluation/sets/real/manifest.jsonl"))
    p.add_argument("--step", type=float, default=None, help="window step (default: the settings')")
    p.add_argument("--json", type=Path, default=None, help="also write the figures here")
    p.add_argument("--encoder", choices=["resemblyzer", "campplus", "fused"], default=None,
                   help="speaker encoder (default: the settings')")
    p.add_argument("--no-channels", action="store_true", help="by_channel off: two-channel files mixed")
    p.add_argument("--one-voice", type=float, default=None, help="one_voice_similarity")
    p.add_argument("--far", type=float, default=None, help="far_similarity")
    p.add_argument("--split", type=float, default=None, help="split_similarity")
    p.add_argument("--no-overlap", action="store_true", help="one speaker per moment (overlap=False)")
    p.add_argument("--overlap-step", type=float, default=None, help="overlap_step_s")
    p.add_argument("--sweep", default=None,
                   help="ONE,…/SPLIT,… or ONE,…/FAR,…/SPLIT,…: every combination, on one embedding run")
    a = p.parse_args(argv)
    cfg = Settings().diarize
    update: dict = {}
    if a.step:
        update["step_s"] = a.step
    if a.encoder:
        update["encoder"] = a.encoder
    if a.no_channels:
        update["by_channel"] = False
    if a.one_voice is not None:
        update["one_voice_similarity"] = a.one_voice
    if a.far is not None:
        update["far_similarity"] = a.far
    if a.split is not None:
        update["split_similarity"] = a.split
    if a.no_overlap:
        update["overlap"] = False
    if a.overlap_step:
        update["overlap_step_s"] = a.overlap_step
    cfg = DiarizeSettings(**{**cfg.model_dump(exclude_unset=True), **update})
    counting = count_settings(cfg)
    print(f"encoder {cfg.encoder}, step {cfg.step_s}, one-voice {counting.one_voice_similarity}, "
          f"far {counting.far_similarity}, split {counting.split_similarity}, "
          f"overlap {cfg.overlap} (step {cfg.overlap_step_s})", flush=True)
    grid: list[tuple[float, float, float]] = []
    if a.sweep:
        parts = a.sweep.split("/")
        ones, fars, splits = parts if len(parts) == 3 else (parts[0], str(counting.far_similarity), parts[-1])
        grid = [(float(o), float(f), float(s)) for o in ones.split(",") for f in fars.split(",")
                for s in splits.split(",")]
    sweep: dict[tuple[float, float, float], dict[str, dict[str, list[float]]]] = {k: {} for k in grid}
    embed_windows(np.zeros(2 * SR, dtype=np.float32), [(0.0, 1.6)], cfg.threads, None, cfg.encoder)  # load
    if cfg.overlap:
        segment(np.zeros(SR, dtype=np.float32), threads=cfg.threads)  # load and export
    rows = [json.loads(line) for line in a.set.read_text().splitlines() if line.strip()]
    groups: dict[str, dict[str, list[float]]] = {}
    audio_s = compute_s = cpu_s = 0.0
    for r in rows:
        if r["group"] == "unscored":  # partial reference turns (evaluation/realset.py)
            continue
        path = (media_folder() / r["audio"][6:]) if r["audio"].startswith("media:") else a.set.parent / r["audio"]
        if not path.is_file():  # not committed (AMI, WSJ): python -m evaluation.realset prepares them
            print(f"{r['id']:18s} {r['group']:5s} missing: {path}", flush=True)
            continue
        x = load_audio(path)
        g = groups.setdefault(r["group"], {"ok": [], "err": [], "ref": [], "err_true": []})
        t0, c0 = time.perf_counter(), time.process_time()
        regions, w, seg = analyse(x, cfg)
        auto = label(regions, w, cfg, SpeakerCount(), seg=seg)
        levels = channel_levels(path) if cfg.by_channel else None
        auto = channels.apply(auto, levels, regions, SpeakerCount(), cfg)
        compute_s += time.perf_counter() - t0
        cpu_s += time.process_time() - c0
        ref_turns = [(t["speaker"], t["start"], t["end"]) for t in r.get("turns") or []]
        for key in grid:
            c = DiarizeSettings(**{**cfg.model_dump(exclude_unset=True),
                                   "one_voice_similarity": key[0], "far_similarity": key[1],
                                   "split_similarity": key[2]})
            o = label(regions, w, c, SpeakerCount(), seg=seg)
            sg = sweep[key].setdefault(r["group"], {"ok": [], "err": [], "ref": []})
            sg["ok"].append(count_ok(r["group"], o.speakers, r["speakers"]))
            if ref_turns:
                d = der(ref_turns, hypothesis(o))
                sg["err"].append(d.der * d.reference_s)
                sg["ref"].append(d.reference_s)
        audio_s += len(x) / SR
        g["ok"].append(count_ok(r["group"], auto.speakers, r["speakers"]))
        line = f"{r['id']:18s} {r['group']:5s} true {r['speakers']} auto {auto.speakers}"
        if ref_turns:
            d = der(ref_turns, hypothesis(auto))
            true_count = SpeakerCount(num=r["speakers"])
            given = channels.apply(label(regions, w, cfg, true_count, seg=seg), levels, regions, true_count, cfg)
            dt = der(ref_turns, hypothesis(given))
            g["err"].append(d.der * d.reference_s)
            g["err_true"].append(dt.der * dt.reference_s)
            g["ref"].append(d.reference_s)
            line += f"  DER {100 * d.der:5.1f} %  (true count: {100 * dt.der:5.1f} %)"
        if auto.overlaps:
            line += f"  overlaps {sum(o.end - o.start for o in auto.overlaps):.1f} s"
        print(line, flush=True)
    out: dict = {"encoder": cfg.encoder, "speed_x": round(audio_s / max(compute_s, 1e-9), 1),
                 "cpu_speed_x": round(audio_s / max(cpu_s, 1e-9), 1), "load_average": round(os.getloadavg()[0], 1),
                 "groups": {}}
    for key in grid:
        row = f"one-voice {key[0]:.3f} far {key[1]:.3f} split {key[2]:.3f}:"
        for name in ("one", "two", "multi"):
            sw = sweep[key].get(name)
            if sw:
                ref_s = sum(sw["ref"])
                row += f"  {name} {int(sum(sw['ok']))}/{len(sw['ok'])}"
                row += f" DER {100 * sum(sw['err']) / ref_s:5.1f} %" if ref_s else ""
        print(row, flush=True)
    for name, g in groups.items():
        ref = sum(g["ref"])
        out["groups"][name] = {
            "clips": len(g["ok"]), "count_ok": int(sum(g["ok"])),
            "der": round(sum(g["err"]) / ref, 4) if ref else None,
            "der_true_count": round(sum(g["err_true"]) / ref, 4) if ref else None,
        }
    print(json.dumps(out, indent=1))
    if a.json:
        a.json.write_text(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
