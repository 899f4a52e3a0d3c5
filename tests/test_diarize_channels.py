"""Speakers by channel (workers/diarize/channels.py): a two-channel recording with one party a
side gets one speaker per channel; one voice on two channels stays one voice.

Real speech: faster-whisper's ``stereo_diarization.wav`` (MIT; two people, one per channel,
talking at once for two seconds, committed in the real set) and ``jfk.flac`` placed on the
channels the ways a stereo file can carry one voice.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from ethos_testing.procs import media_dir
from shared.schemas import DiarizeOutput, ModelInfo, SpeakerTurn
from shared.settings import DiarizeSettings
from workers.cpu import media
from workers.diarize import channels
from workers.diarize.cluster import SpeakerCount

ROOT = Path(__file__).resolve().parent.parent
CFG = DiarizeSettings()
STEREO_TWO = ROOT / "evaluation" / "sets" / "real" / "audio" / "stereo-two.wav"


def levels_of(path: Path, tmp: Path) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """The levels prepare keeps and the speech regions of the mix (energy, as a VAD would)."""
    stereo = tmp / f"{path.stem}.stereo.wav"
    media.extract_audio(path, tmp / f"{path.stem}.mono.wav", path.name, None, 600, stereo)
    lv = media.channel_levels(stereo)
    return lv, [(0.0, len(lv) * channels.FRAME_S)]


def pan(tmp: Path, name: str, pan_filter: str) -> Path:
    """jfk.flac made two-channel with an ffmpeg ``pan`` (or other) audio filter."""
    out = tmp / f"{name}.wav"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(media_dir() / "jfk.flac"), "-af", pan_filter,
                    "-ac", "2", "-ar", "16000", str(out)], check=True)
    return out


def test_probe_counts_channels(tmp_path: Path) -> None:
    assert media.probe(STEREO_TWO, "s.wav").audio_channels == 2
    assert media.probe(media_dir() / "jfk.flac", "jfk.flac").audio_channels == 2  # one voice, both sides
    mono = tmp_path / "mono.wav"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(STEREO_TWO), "-ac", "1", str(mono)], check=True)
    assert media.probe(mono, "mono.wav").audio_channels == 1


def test_jfk_as_published_stays_one_voice(tmp_path: Path) -> None:
    lv, regions = levels_of(media_dir() / "jfk.flac", tmp_path)
    assert channels.channel_activity(lv, regions) is None


def test_levels_per_channel_and_alike(tmp_path: Path) -> None:
    left_only, _ = levels_of(pan(tmp_path, "left", "pan=stereo|c0=c0|c1=0*c0"), tmp_path)
    assert left_only.shape[1] == 3 and len(left_only) == pytest.approx(110, abs=2)  # 11 s in 0.1-s frames
    assert left_only[:, 1].max() <= -119 and np.percentile(left_only[:, 0], 90) > -40
    same, _ = levels_of(pan(tmp_path, "same", "pan=stereo|c0=c0|c1=c0"), tmp_path)
    loud = same[:, 0] > -45
    assert np.allclose(same[loud, 0], same[loud, 1], atol=0.5) and same[loud, 2].min() > 0.95


def test_one_party_a_side_is_two_speakers(tmp_path: Path) -> None:
    lv, regions = levels_of(STEREO_TWO, tmp_path)
    speaks = channels.channel_activity(lv, regions)
    assert speaks is not None
    # The left voice speaks throughout, the right one over the first two seconds, at once.
    assert speaks[:, 0].sum() * channels.FRAME_S > 4.0 and 1.5 < speaks[:, 1].sum() * channels.FRAME_S < 3.0
    assert np.flatnonzero(speaks[:, 1]).max() * channels.FRAME_S < 3.0
    turns = channels.channel_turns(lv, speaks, regions, 0.4)
    first = [(t.start, t.end) for t in turns if t.speaker == "SPEAKER_00"]
    second = [(t.start, t.end) for t in turns if t.speaker == "SPEAKER_01"]
    assert first and second and max(b for _, b in second) < 3.0  # where the right one is louder
    assert all(b <= c for (_, b), (c, _) in zip(sorted(first + second), sorted(first + second)[1:], strict=False))


@pytest.mark.parametrize("name,pan_filter", [
    ("copy", "pan=stereo|c0=c0|c1=c0"),  # a mono recording stored as stereo
    ("panned", "pan=stereo|c0=c0|c1=0.05*c0"),  # one voice to one side, its bleed 26 dB under
    ("two-mics", "pan=stereo|c0=c0|c1=0.6*c0,adelay=0|1"),  # one voice, two microphones 1 ms apart
    ("left-only", "pan=stereo|c0=c0|c1=0*c0"),
    # one voice, two microphones far apart: 4 ms and different echoes on each side
    ("spaced-echoes", "pan=stereo|c0=c0|c1=c0,aecho=0.8:0.6:23|41:0.3|0.2,adelay=0|4"),
    ("spaced-8ms", "pan=stereo|c0=c0|c1=0.9*c0,adelay=0|8"),
    ("line-echo", "pan=stereo|c0=c0|c1=0.06*c0,adelay=0|80"),  # the other side: only the echo, 24 dB under
])
def test_one_voice_on_two_channels_stays_with_the_voices(tmp_path: Path, name: str, pan_filter: str) -> None:
    lv, regions = levels_of(pan(tmp_path, name, pan_filter), tmp_path)
    assert channels.channel_activity(lv, regions) is None


def test_one_party_over_the_other_lines_hiss_stays_with_the_voices(tmp_path: Path) -> None:
    """The other party silent on a noisy line: steady hiss about 40 dB under on the right."""
    out = tmp_path / "hiss.wav"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(media_dir() / "jfk.flac"),
                    "-f", "lavfi", "-i", "anoisesrc=color=pink:amplitude=0.01:sample_rate=16000:duration=11",
                    "-filter_complex", "[0:a]pan=mono|c0=c0,aresample=16000[v];[v][1:a]join=inputs=2:channel_layout=stereo",
                    "-ar", "16000", str(out)], check=True)
    lv, regions = levels_of(out, tmp_path)
    assert channels.channel_activity(lv, regions) is None


def _voices_output() -> DiarizeOutput:
    return DiarizeOutput(turns=[SpeakerTurn(speaker="SPEAKER_00", start=0.2, end=4.8)],
                         model=ModelInfo(engine="resemblyzer", model_id="x", extra={"num_speakers": None}),
                         seconds=0.1, windows=8, clustered_windows=8, speakers=1)


def test_apply_takes_the_channels_only_where_two_are_allowed(tmp_path: Path) -> None:
    lv, regions = levels_of(STEREO_TWO, tmp_path)
    auto = channels.apply(_voices_output(), lv, regions, SpeakerCount(), CFG)
    assert auto.speakers == 2 and auto.model.extra["speakers_by"] == "channel"
    # Both sides at once over the first two seconds: overlaps there, the louder side first.
    assert auto.overlaps and all(o.end <= 3.0 and len(set(o.speakers)) == 2 for o in auto.overlaps)
    assert sum(o.end - o.start for o in auto.overlaps) > 1.0
    quiet = channels.apply(_voices_output(), lv, regions, SpeakerCount(), DiarizeSettings(overlap=False))
    assert quiet.speakers == 2 and quiet.overlaps == []
    assert auto.model.extra["num_speakers"] is None  # the voices' info is kept beside it
    assert channels.apply(_voices_output(), lv, regions, SpeakerCount(num=2), CFG).speakers == 2
    assert channels.apply(_voices_output(), lv, regions, SpeakerCount(lo=1, hi=4), CFG).speakers == 2
    for count in (SpeakerCount(num=1), SpeakerCount(num=3), SpeakerCount(lo=3)):
        assert channels.apply(_voices_output(), lv, regions, count, CFG) == _voices_output()
    assert channels.apply(_voices_output(), None, regions, SpeakerCount(), CFG) == _voices_output()
    three = _voices_output().model_copy(update={"speakers": 3})  # more voices than sides
    assert channels.apply(three, lv, regions, SpeakerCount(), CFG) == three
    assert channels.apply(three, lv, regions, SpeakerCount(num=2), CFG).speakers == 2
