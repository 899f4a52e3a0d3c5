"""Face detection, Haar vs BlazeFace, side by side in one run; and label stability.

1. Per-frame detect cost on the same decoded frames (both detectors take turns frame by
   frame, one thread each, this process pinned to one CPU): the 720p benchmark video
   (yongen.mp4 padded to 1280×720, as bench/fer_throughput.py) and small-face frames.
2. Recall on small faces: yongen.mp4's face scaled to 240/120/80/64/48 px wide in a 1280×720
   frame (made here with ffmpeg, 8 s), sampled at 5 fps and decoded at 640×360 as the worker
   does: frames with a face found, and seconds with a label through the whole FER path.
3. Label flips on yongen.mp4 (10.7 s): one run at 5 fps; the 5-fps averaged labels against a
   single frame per second (each of the five instants of a second in turn, i.e. 1 fps).

    .venv/bin/python bench/face_detect.py
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from pathlib import Path

from ethos_testing.media import small_face_video
from ethos_testing.procs import MEDIA
from shared.settings import FerSettings
from workers.fer.analyze import analyze_range
from workers.fer.detect import FaceDetector, get_detector
from workers.fer.timeline import label_changes, per_second
from workers.fer.video import frames, sample_times

OUT = Path(__file__).resolve().parent / "out"
SIZES = (240, 120, 80, 64, 48)


def bench_video() -> Path:
    """yongen.mp4 padded to 1280×720 (20 s; the same framing as fer_throughput.py's video)."""
    path = OUT / "face720p_20s.mp4"
    if not path.exists():
        OUT.mkdir(exist_ok=True)
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-stream_loop", "-1", "-i", str(MEDIA / "yongen.mp4"),
                        "-t", "20", "-an", "-vf", "scale=-2:720,pad=1280:720:(ow-iw)/2:0,fps=25",
                        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(path)], check=True)
    return path


def timed(dets: dict[str, FaceDetector], video: Path, seconds: float) -> dict[str, tuple[float, int, int]]:
    """Per detector: mean ms per frame, frames with a face, frames."""
    rgbs = [rgb for _, rgb in frames(str(video), sample_times(0, seconds, 5.0), 1280, 720, 5.0)]
    for d in dets.values():  # warm up
        d.faces(rgbs[0])
    spent = dict.fromkeys(dets, 0.0)
    found = dict.fromkeys(dets, 0)
    for rgb in rgbs:
        for name, d in dets.items():
            t0 = time.perf_counter()
            n = len(d.faces(rgb))
            spent[name] += time.perf_counter() - t0
            found[name] += n > 0
    return {k: (1000 * spent[k] / len(rgbs), found[k], len(rgbs)) for k in dets}


def main() -> None:
    os.sched_setaffinity(0, {0})
    cfg = FerSettings()
    dets: dict[str, FaceDetector] = {
        "haar": get_detector("haar", cfg.min_face_px, 1),
        "blazeface": get_detector("blazeface", threads=1, min_score=cfg.min_score, tile_px=cfg.tile_px),
    }
    print(f"face_detect: one CPU, one thread per detector, frames decoded at 640 px wide as the worker does "
          f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    r = timed(dets, bench_video(), 20.0)
    h, b = r["haar"], r["blazeface"]
    print(f"  720p benchmark video, 100 frames: Haar {h[0]:.1f} ms/frame ({h[1]}/{h[2]} with a face), "
          f"BlazeFace {b[0]:.1f} ms/frame ({b[1]}/{b[2]}) → BlazeFace {h[0] / b[0]:.1f}× faster")
    print("  small faces in 1280×720 (decoded 640×360), 8 s at 5 fps:")
    print("    face px | Haar ms, frames found, seconds labelled | BlazeFace ms, frames found, seconds labelled")
    with tempfile.TemporaryDirectory() as d:
        for px in SIZES:
            video, _ = small_face_video(MEDIA / "yongen.mp4", px, Path(d) / f"face{px}.mp4", seconds=8.0)
            r = timed(dets, video, 8.0)
            secs = {}
            for name in dets:
                out = analyze_range(str(video), 0, 8, 1280, 720, FerSettings(detector=name))  # type: ignore[arg-type]
                secs[name] = len(per_second(out.frames).labels)
            h, b = r["haar"], r["blazeface"]
            print(f"    {px:7d} | {h[0]:5.1f} ms, {h[1]:2d}/{h[2]}, {secs['haar']}/8"
                  f" | {b[0]:5.1f} ms, {b[1]:2d}/{b[2]}, {secs['blazeface']}/8")
    out = analyze_range(str(MEDIA / "yongen.mp4"), 0, 10.72, 704, 1216, FerSettings(fps=5))
    tl = per_second(out.frames)
    single = []
    for phase in range(5):
        labels = {int(f.t): f.label for f in out.frames if round((f.t % 1) * 10) == 2 * phase + 1 and f.label}
        single.append(label_changes(labels))
    minutes = 10.72 / 60
    mean_single = sum(single) / len(single)
    print(f"  label flips on yongen.mp4 (10.7 s, BlazeFace): 1 fps single frame {mean_single:.1f} "
          f"(per instant of the second {single}) = {mean_single / minutes:.0f}/min; "
          f"5 fps averaged {label_changes(tl.labels)} = {label_changes(tl.labels) / minutes:.0f}/min")
    print(f"    5-fps labels: {[tl.labels[s] for s in sorted(tl.labels)]}")


if __name__ == "__main__":
    main()
