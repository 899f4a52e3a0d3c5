"""Preview encoding: speed and size of the browser-playable rendition.

Makes a 1080p, 25 fps MPEG-4 Part 2 + AAC video (ffmpeg's test pattern and a tone; a
camera-style file browsers show no picture for), then runs the preview encode the
``ethos.preview`` task runs (``workers.cpu.preview.encode``, default settings: 720 lines,
x264 ``veryfast`` CRF 26 capped at 2.5 Mbit/s, AAC 128 kbit/s, ``+faststart``) and prints the
encode time as a multiple of real time, the preview's size per minute and the size bound.
A test pattern is easier to encode than camera footage: its size is a lower figure, the bound
holds for any input.

    .venv/bin/python bench/preview_speed.py [--seconds 60] [--threads 0]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from ethos_testing.media import run
from shared.settings import PreviewSettings
from workers.cpu.media import probe
from workers.cpu.preview import encode, playable


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--preset", nargs="+", default=[PreviewSettings().preset],
                    help="x264 presets to compare on the same input, in one run")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        src, out = Path(d) / "camera.mp4", Path(d) / "preview.mp4"
        run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=25",
             "-f", "lavfi", "-i", "sine=frequency=300", "-t", str(args.seconds),
             "-c:v", "mpeg4", "-q:v", "4", "-c:a", "aac", str(src)])
        info = probe(src, src.name)
        ok, why = playable(info)
        print(f"input: {info.video_codec} {info.video_width}x{info.video_height} + {info.audio_codec}, "
              f"{info.duration:.1f} s, {src.stat().st_size / 2**20:.1f} MiB; browser-playable: {ok} ({why})")
        for preset in args.preset:
            cfg = PreviewSettings(threads=args.threads, preset=preset)
            t0 = time.perf_counter()
            encode(src, out, info, cfg)
            took = time.perf_counter() - t0
            per_min = out.stat().st_size / args.seconds * 60 / 2**20
            bound = (cfg.max_video_kbps + cfg.audio_kbps) * 1000 / 8 * 60 / 2**20
            print(f"preset {preset}: encode {took:.1f} s = {args.seconds / took:.2f}x real time "
                  f"(threads={args.threads or 'auto'}, {cfg.max_height} lines); size "
                  f"{out.stat().st_size / 2**20:.2f} MiB = {per_min:.2f} MiB/min (bound {bound:.1f} MiB/min)")


if __name__ == "__main__":
    main()
