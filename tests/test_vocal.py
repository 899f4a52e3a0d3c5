"""Vocal events: features, the YAMNet detector on real recordings, and the merge rule."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from evaluation.vocal import decode
from shared.schemas import Segment, TagHit, VocalEvent, Word
from shared.settings import VocalSettings
from shared.tags import AUDIOSET_CONTEXT, AUDIOSET_TAGS, TAG_TABLE, annotate, table_rows
from tests.vocal_set import COMMITTED_CRYING, CRYING, LAUGHTER, committed, nvd_clip, real_clip
from workers.vocal import features, model
from workers.vocal.detect import Key, Run, absorb_flickers, find_runs, runs
from workers.vocal.inline import place_events
from workers.vocal.pipeline import detect_vocal_events, keys


@pytest.fixture(scope="module")
def cfg(tmp_path_factory: pytest.TempPathFactory) -> VocalSettings:
    return VocalSettings(cache_dir=tmp_path_factory.mktemp("models"))


def _events(samples: np.ndarray, cfg: VocalSettings) -> tuple[set[str], set[str]]:
    out = detect_vocal_events(samples, cfg)
    return {e.tag for e in out.events if e.tag}, {e.label for e in out.events if e.tag is None}


# --- the tag table ---------------------------------------------------------------------

def test_every_detector_tag_is_in_the_table_and_served() -> None:
    assert all(t in TAG_TABLE for t in AUDIOSET_TAGS)
    names = set(model.class_names())
    assert all(lab in names for labs in (*AUDIOSET_TAGS.values(), *AUDIOSET_CONTEXT.values()) for lab in labs)
    table = table_rows()
    crying = next(r for r in table.tags if "crying" in r.tags)
    assert crying.detector_tag == "crying" and "Crying, sobbing" in crying.audioset
    assert table.context["music"] == ["Music"] and "music" not in TAG_TABLE
    assert TAG_TABLE["screams"].emotion == "Anxious" and TAG_TABLE["coughs"].emotion == "Neutral"


# --- features and the model -------------------------------------------------------------

def test_patches_every_hop_and_padding() -> None:
    assert features.mel_matrix().shape == (257, 64)
    assert features.mel_matrix()[0].sum() == 0  # no weight on DC
    assert len(list(features.patches(np.zeros(8000, np.float32)))) == 1  # shorter than a patch
    n = len(list(features.patches(np.zeros(16000 * 10, np.float32))))
    assert n == 20  # 0.96-s patches every 0.48 s over 10 s, the last one padded
    p = next(features.patches(np.zeros(16000, np.float32)))
    assert p.shape == (96, 64) and np.allclose(p, np.log(0.001))


def test_model_unpacked_once_and_repaired(tmp_path: Path) -> None:
    path = model.unpacked(tmp_path)
    assert path.is_file() and (path.parent / "model.data").stat().st_size > 10_000_000
    mtime = path.stat().st_mtime_ns
    assert model.unpacked(tmp_path) == path and path.stat().st_mtime_ns == mtime  # checked, reused
    (path.parent / "model.data").write_bytes(b"truncated")
    assert model.unpacked(tmp_path) == path
    assert (path.parent / "model.data").stat().st_size > 10_000_000  # a broken copy is replaced


# --- the detector's rules (score arrays) ---------------------------------------------------

def test_hysteresis_runs() -> None:
    v = np.array([0, 0.2, 0.5, 0.35, 0.31, 0.1, 0.6, 0.0, 0.29])
    assert runs(v, on=0.5, off=0.3) == [(2, 4), (6, 6)]
    assert runs(np.array([0.1, 0.35, 0.6, 0.1]), on=0.5, off=0.3) == [(1, 2)]  # starts where it rose
    assert runs(np.zeros(5), 0.5, 0.3) == []


def test_a_sound_counts_once_and_flickers_are_absorbed() -> None:
    k_laugh = Key("laughs", "laughs", (0,), ("Laughter",), 0.3)
    k_cry = Key("crying", "crying", (1,), ("Crying, sobbing",), 0.3)
    k_music = Key("music", None, (2,), ("Music",), 0.5)
    s = np.zeros((8, 3), np.float32)
    s[1:5, 0] = 0.9          # laughter over hops 1-4
    s[1:5, 1] = 0.5          # … that also scores a little as crying: laughter wins those hops
    s[5, 1] = 0.9            # the laugh's tail scored as a wail for one hop: absorbed
    s[:, 2] = 0.95           # music throughout: a context event, untouched by the vocal rules
    found = find_runs(s, [k_laugh, k_cry, k_music], release=0.6)
    assert [(r.key.name, r.first, r.last) for r in found] == [("music", 0, 7), ("laughs", 1, 4)]
    laugh = next(r for r in found if r.key.name == "laughs")
    assert (laugh.start, laugh.end) == (0.72, 2.64) and laugh.label == "Laughter"
    lone = Run(k_cry, 7, 7, 0.9, "Crying, sobbing")  # one hop, touching nothing: kept
    assert absorb_flickers([lone]) == [lone]


# --- the detector on real recordings (acceptance 1) --------------------------------------------

@pytest.mark.parametrize("name", ["music-jazz-guitar.opus", "music-piano.opus", "music-vibe-ace.opus"])
def test_real_music_is_context_not_a_vocal_tag(name: str, cfg: VocalSettings) -> None:
    tags, context = _events(committed(name), cfg)
    assert tags == set() and context == {"Music"}


@pytest.mark.parametrize("name", ["applause.opus", "applause-crowd-cheering.opus"])
def test_real_applause_gives_no_vocal_tag(name: str, cfg: VocalSettings) -> None:
    tags, context = _events(committed(name), cfg)
    assert tags == set()
    assert context <= {"Applause", "Cheering", "Clapping"}
    if name == "applause.opus":
        assert "Applause" in context


def test_a_minute_of_real_speech_has_no_vocal_event(jfk: Path, cfg: VocalSettings) -> None:
    x = np.concatenate([decode(jfk)] + [committed(f"speech-librispeech-{n}.opus")
                                        for n in ("198-209-0000", "3436-172162-0000", "5703-47212-0000")])
    assert len(x) / 16000 > 55
    out = detect_vocal_events(x, cfg)
    assert out.events == [] and out.hops == pytest.approx(len(x) / 16000 / 0.48, abs=2)
    assert out.model.engine == "yamnet"


def test_real_laughter_is_laughs(cfg: VocalSettings) -> None:
    tags, _ = _events(decode(nvd_clip(LAUGHTER)), cfg)
    assert "laughs" in tags and "crying" not in tags


def test_real_crying_is_crying(cfg: VocalSettings) -> None:
    tags, _ = _events(decode(nvd_clip(CRYING)), cfg)
    assert "crying" in tags and "laughs" not in tags


@pytest.mark.parametrize("name", COMMITTED_CRYING)
def test_real_infant_crying_is_crying(name: str, cfg: VocalSettings) -> None:
    tags, _ = _events(real_clip(name, CRYING), cfg)
    assert "crying" in tags and "laughs" not in tags


def test_thresholds_from_settings(cfg: VocalSettings) -> None:
    names = {k.name: k for k in keys({"laughs": 0.99})}
    assert names["laughs"].threshold == 0.99 and names["music"].tag is None
    strict = cfg.model_copy(update={"thresholds": {"music": 1.5}})  # above 1: never reported
    assert _events(committed("music-piano.opus"), strict)[1] == set()


# --- the merge rule -------------------------------------------------------------------------------

def _seg(i: int, text: str, words: list[tuple[str, float, float]], start: float, end: float) -> Segment:
    ws = [Word(word=w, start=a, end=b, probability=0.9) for w, a, b in words]
    ann = annotate(text, start, end, ws)
    return Segment(id=i, start=start, end=end, text=text, emotion=ann.emotion, valence=ann.valence,
                   arousal=ann.arousal, tags=ann.tags, emotion_track=ann.track, words=ws)


def _ev(start: float, end: float, tag: str | None = "laughs", label: str = "Laughter") -> VocalEvent:
    return VocalEvent(start=start, end=end, label=label, tag=tag, score=0.9)


JFK_WORDS = [(" And", 0.0, 0.7), (" so,", 0.7, 1.0), (" my", 1.0, 1.4), (" fellow", 1.4, 1.7),
             (" Americans,", 1.7, 2.3), (" ask", 5.9, 6.3), (" not", 6.3, 6.8)]


def test_event_inside_a_segment_becomes_a_tag_at_the_nearest_word_boundary() -> None:
    seg = _seg(1, " And so, my fellow Americans, ask not", JFK_WORDS, 0.0, 6.8)
    out = place_events([seg], [_ev(2.6, 5.5)])
    assert seg.text == " And so, my fellow Americans, [laughs] ask not"
    assert [(t.tag, t.source, t.time) for t in seg.tags] == [("laughs", "yamnet", 2.3)]
    assert (seg.emotion, seg.valence, seg.arousal) == ("Happy", 0.7, 0.6)  # the tag table's row
    assert seg.emotion_track[0].time == 2.3
    assert out[0].segment == 1


def test_event_between_segments_stands_alone_and_context_is_never_inline() -> None:
    a = _seg(1, " And so,", JFK_WORDS[:2], 0.0, 1.0)
    b = _seg(2, " ask not", JFK_WORDS[5:], 5.9, 6.8)
    out = place_events([a, b], [_ev(2.5, 4.5), _ev(0.0, 6.8, None, "Music")])
    assert a.text == " And so," and b.text == " ask not" and a.emotion == b.emotion == "Neutral"
    assert [(e.label, e.segment) for e in out] == [("Music", None), ("Laughter", None)]


def test_event_at_a_segment_start_goes_before_the_first_word() -> None:
    seg = _seg(1, " ask not", JFK_WORDS[5:], 5.9, 6.8)
    place_events([seg], [_ev(5.6, 6.2, "sighs", "Sigh")])
    assert seg.text == " [sighs] ask not" and seg.emotion == "Sad"


def test_an_engine_tag_is_not_doubled_and_both_sources_are_kept() -> None:
    text = " And so, my fellow Americans, [laughs] ask not"
    seg = _seg(1, text, JFK_WORDS, 0.0, 6.8)
    out = place_events([seg], [_ev(2.4, 4.0), _ev(6.0, 6.5, "gasps", "Gasp")], engine="voxtral")
    assert seg.text.count("[laughs]") == 1
    assert seg.text == " And so, my fellow Americans, [laughs] ask [gasps] not"
    assert [(t.tag, t.source) for t in seg.tags] == [("laughs", "voxtral"), ("gasps", "yamnet")]
    assert [e.segment for e in out] == [1, 1]
    assert seg.emotion == "Surprised"  # the tag rule: a tie goes to the stronger arousal (0.7)


def test_segment_without_words_uses_character_positions() -> None:
    seg = Segment(id=3, start=10.0, end=14.0, text="one two three four", emotion="Neutral",
                  valence=0.0, arousal=0.0)
    place_events([seg], [_ev(12.1, 13.0)])
    assert seg.text == "one two [laughs] three four"
    assert isinstance(seg.tags[0], TagHit) and seg.tags[0].source == "yamnet"


# --- exports -------------------------------------------------------------------------------------

def test_exports_carry_standalone_events() -> None:
    from shared.exports import to_csv, to_srt, to_vtt

    result = {"segments": [{"id": 1, "speaker": "SPEAKER_00", "start": 0.0, "end": 2.0,
                            "text": "Hello [laughs] there", "emotion": "Happy", "valence": 0.7, "arousal": 0.6}],
              "events": [{"start": 0.5, "end": 1.0, "label": "Laughter", "tag": "laughs", "score": 0.9, "segment": 1},
                         {"start": 3.0, "end": 4.5, "label": "Laughter", "tag": "laughs", "score": 0.9},
                         {"start": 5.0, "end": 9.0, "label": "Applause", "tag": None, "score": 0.95}]}
    csv_text = to_csv(result)
    rows = [r.split(",") for r in csv_text.strip().split("\r\n")]
    assert rows[0][-1] == "kind" and [r[-1] for r in rows[1:]] == ["segment", "event", "event"]
    assert rows[2][3] == "[laughs]" and rows[2][4] == "Happy" and rows[2][2] == ""
    assert rows[3][3] == "[applause]" and rows[3][4] == ""
    srt = to_srt(result)
    assert "00:00:03,000 --> 00:00:04,500\n[laughs]" in srt and "[applause]" in srt
    assert srt.count("[laughs]") == 2  # the inline one in its segment's cue, the standalone one
    assert "00:00:05.000 --> 00:00:09.000\n[applause]" in to_vtt(result)
