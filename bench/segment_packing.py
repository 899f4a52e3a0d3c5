"""How the VAD segment bounds decide how many 30-s model windows a recording costs.

Voxtral pads every segment to one 30-s window (375 audio tokens), so the encoder cost of a
recording is proportional to its number of segments, whatever their length; only the text
tokens scale with speech. This counts windows and their fill for several merge gaps and
maximum lengths on about three minutes of real-paced speech (espeak-ng sentences with
pauses of 0.3 to 2.5 s). Multiply by the per-window and per-token costs that
``bench/stt_throughput.py`` measures on a GPU to get throughput.

    .venv/bin/python bench/segment_packing.py
"""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

from ethos_testing import media
from shared.settings import VadSettings
from workers.stt import vad
from workers.stt.audio import read_wav

SENTENCES = [
    "The committee met on Tuesday to discuss the new budget.", "Nobody expected the results to arrive so soon.",
    "She laughed and said that it was the best day of her life.", "We should probably take the train instead.",
    "Honestly I am not sure what happened after that.", "The river was high after a week of heavy rain.",
    "He paused, looked around the room, and started again.", "Could you send me the report before Friday?",
    "Everything went quiet when the lights went out.", "They built the bridge in less than two years.",
]


def build(folder: Path) -> Path:
    rng = random.Random(7)
    parts = [media.silence(0.5, folder / "lead.wav")]
    for i in range(30):
        parts.append(media.speak(SENTENCES[i % len(SENTENCES)], folder / f"s{i}.wav"))
        parts.append(media.silence(round(rng.uniform(0.3, 2.5), 2), folder / f"g{i}.wav"))
    listing = folder / "list.txt"
    listing.write_text("".join(f"file '{p}'\n" for p in parts))
    out = folder / "speech.wav"
    media.run(["ffmpeg", "-v", "error", "-y", "-f", "concat", "-safe", "0", "-i", str(listing), "-c:a", "pcm_s16le", str(out)])
    return out


def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        samples = read_wav(build(Path(d)))
    total = len(samples) / 16000
    probs = vad.speech_probs(samples)
    print(f"segment_packing: {total:.0f} s recording, 30 sentences, pauses 0.3–2.5 s")
    print("  merge_gap_s  max_segment_s  windows  windows/min  mean segment s  fill of 30-s window")
    for gap in (0.3, 0.6, 1.0, 1.5, 3.0):
        for mx in (10.0, 20.0, 28.0):
            segs = vad.segment(probs, VadSettings(merge_gap_s=gap, max_segment_s=mx), total)
            speech = sum(b - a for a, b in segs)
            print(f"  {gap:11.1f}  {mx:13.0f}  {len(segs):7d}  {60 * len(segs) / total:11.1f}  "
                  f"{speech / max(len(segs), 1):14.1f}  {speech / max(len(segs), 1) / 30:18.0%}")


if __name__ == "__main__":
    main()
