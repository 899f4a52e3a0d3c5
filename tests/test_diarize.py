"""Diarization without a stack: DER, clustering, turns, the merge's speaker assignment, the
request checks, and the whole pipeline on espeak-ng dialogues."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ethos_testing.dialogue import alternating, dialogue
from evaluation.der import der
from shared.schemas import Segment, SpeakerTurn, TagHit, Word
from shared.settings import Settings
from workers.cpu.speakers import assign_speakers
from workers.diarize.cluster import CountSettings, SpeakerCount, cluster, estimate_count
from workers.diarize.embed import plan_windows
from workers.diarize.turns import absorb_short, make_turns

# --------------------------------------------------------------------------- DER


def test_der_is_zero_for_a_perfect_answer_under_any_labels() -> None:
    ref = [("a", 0.0, 5.0), ("b", 5.0, 9.0)]
    assert der(ref, ref).der == 0.0
    d = der(ref, [("X", 0.0, 5.0), ("Y", 5.0, 9.0)])
    assert d.der == 0.0 and d.mapping == {"X": "a", "Y": "b"}


def test_der_counts_confusion_miss_and_false_alarm() -> None:
    ref = [("a", 0.0, 10.0), ("b", 10.0, 20.0)]
    # One speaker for everything: b's 10 s are confusion (minus the collars).
    one = der(ref, [("X", 0.0, 20.0)], collar=0.0)
    assert one.confusion_s == pytest.approx(10.0) and one.der == pytest.approx(0.5)
    # Missed 2 s of a, 1 s false alarm after the end.
    d = der(ref, [("X", 2.0, 10.0), ("Y", 10.0, 21.0)], collar=0.0)
    assert d.missed_s == pytest.approx(2.0) and d.false_alarm_s == pytest.approx(1.0)
    assert d.der == pytest.approx(3.0 / 20.0)
    assert der(ref, [], collar=0.0).der == pytest.approx(1.0)
    assert der([], []).der == 0.0


def test_der_collar_forgives_borders() -> None:
    ref = [("a", 0.0, 10.0), ("b", 10.0, 20.0)]
    late = [("X", 0.0, 10.2), ("Y", 10.2, 20.0)]  # the change found 0.2 s late
    assert der(ref, late, collar=0.25).der == 0.0
    assert der(ref, late, collar=0.0).der == pytest.approx(0.2 / 20.0)


def test_der_optimal_mapping_beats_greedy() -> None:
    # X overlaps a most, but mapping X→b and Y→a gives more matched time overall.
    ref = [("a", 0.0, 6.0), ("b", 6.0, 10.0)]
    hyp = [("X", 0.0, 3.0), ("Y", 3.0, 6.0), ("X", 6.0, 10.0)]
    d = der(ref, hyp, collar=0.0)
    assert d.mapping == {"X": "b", "Y": "a"} and d.confusion_s == pytest.approx(3.0)


# --------------------------------------------------------------------------- clustering


def _voices(centres: int, per: int, seed: int = 0, spread: float = 0.08) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    # Non-negative like the encoder's output (a ReLU), centres about as far apart as real voices.
    base = np.maximum(rng.normal(size=(centres, 256)), 0) + 0.3
    x = np.concatenate([np.abs(base[i] + spread * rng.normal(size=(per, 256)) * base[i].mean())
                        for i in range(centres)])
    return x / np.linalg.norm(x, axis=1, keepdims=True), np.repeat(np.arange(centres), per)


def _same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    return len({(int(x), int(y)) for x, y in zip(a, b, strict=True)}) == len(set(a.tolist())) == len(set(b.tolist()))


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_cluster_finds_the_number_of_voices(k: int) -> None:
    x, truth = _voices(k, 30, seed=k)
    labels = cluster(x, SpeakerCount())
    assert _same_partition(labels, truth), np.bincount(labels)
    assert labels[0] == 0  # numbered in order of first appearance


def test_cluster_honours_the_count_and_bounds() -> None:
    x, _ = _voices(2, 30)
    assert len(set(cluster(x, SpeakerCount(num=3)).tolist())) == 3
    assert len(set(cluster(x, SpeakerCount(lo=3)).tolist())) >= 3
    x4, _ = _voices(4, 20)
    assert len(set(cluster(x4, SpeakerCount(hi=2)).tolist())) <= 2
    assert set(cluster(x4, SpeakerCount(num=1)).tolist()) == {0}
    assert cluster(x4[:0], SpeakerCount()).shape == (0,)
    assert SpeakerCount(lo=5, hi=3).bounds() == (5, 5) and SpeakerCount().bounds() == (1, 8)


def test_cluster_subsamples_past_the_cap() -> None:
    x, truth = _voices(2, 150)
    labels = cluster(x, SpeakerCount(), max_windows=40)
    assert _same_partition(labels, truth)


def _two_voices_in_time(similarity: float, a_regions: int, b_regions: int, seed: int = 0
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Two voices whose mean embeddings have the given cosine; ``a_regions`` 4.6-s speech
    regions of A then ``b_regions`` of B (five overlapping 1.6-s windows each, 1-s pauses)."""
    rng = np.random.default_rng(seed)
    a = np.maximum(rng.normal(size=256), 0) + 0.3
    a /= np.linalg.norm(a)
    r = rng.normal(size=256)
    r -= (r @ a) * a
    b = similarity * a + np.sqrt(1 - similarity**2) * r / np.linalg.norm(r)
    rows, truth, starts = [], [], []
    for i, v in enumerate([a] * a_regions + [b] * b_regions):
        for j in range(5):
            x = v + 0.01 * rng.normal(size=256)
            rows.append(x / np.linalg.norm(x))
            truth.append(int(v is b))
            starts.append(i * 5.6 + j * 0.75)
    st = np.array(starts)
    return np.array(rows), np.array(truth), st, st + 1.6


def test_a_minority_voice_is_more_than_one_voice() -> None:
    # Three quarters of the speech is A; B is 0.72 alike: above the last-merge threshold (0.70),
    # so only the minority-voice test (B's stretches far from the mean voice) counts it.
    emb, truth, starts, ends = _two_voices_in_time(0.72, 6, 2)
    assert estimate_count(emb, starts, ends, CountSettings()) == 2
    assert estimate_count(emb, starts, ends, CountSettings(far_similarity=0.5)) == 1
    labels = cluster(emb, SpeakerCount(), CountSettings(), starts=starts, ends=ends)
    assert _same_partition(labels, truth)


def test_one_steady_voice_stays_one() -> None:
    emb, _, starts, ends = _two_voices_in_time(0.95, 8, 0)
    assert estimate_count(emb, starts, ends, CountSettings()) == 1


def test_a_dominant_voice_is_not_split_to_reach_the_count() -> None:
    # With the count given, the stretch groups keep A whole beside B's short stretch.
    emb, truth, starts, ends = _two_voices_in_time(0.5, 9, 1)
    labels = cluster(emb, SpeakerCount(num=2), starts=starts, ends=ends)
    assert _same_partition(labels, truth)


# --------------------------------------------------------------------------- windows and turns


def test_windows_cover_each_region() -> None:
    w = plan_windows([(0.0, 0.3), (1.0, 2.0), (3.0, 6.0)], 0.5)
    assert w[0] == (1.0, 2.0)  # short region: one window of its own length; 0.3 s dropped
    rest = w[1:]
    assert rest[0] == (3.0, 4.6) and rest[-1][1] == pytest.approx(6.0)
    assert all(b - a == pytest.approx(1.6) for a, b in rest)


def test_speech_regions_from_vad_flags() -> None:
    from workers.diarize.regions import FRAME_S, regions_from_flags

    def frames(seconds: float, on: bool) -> list[bool]:
        return [on] * int(round(seconds / FRAME_S))

    # 1.5 s speech, a 0.15-s dip (closed), 0.9 s speech, 1.2 s pause, a 0.09-s blip (dropped),
    # 0.6 s pause, 0.6 s speech.
    flags = np.array(frames(1.5, True) + frames(0.15, False) + frames(0.9, True) + frames(1.2, False)
                     + frames(0.09, True) + frames(0.6, False) + frames(0.6, True))
    got = regions_from_flags(flags, len(flags) * FRAME_S)
    assert len(got) == 2
    assert got[0][0] == 0.0 and got[0][1] == pytest.approx(2.6, abs=0.1)
    assert got[1][0] == pytest.approx(4.44 - 0.05, abs=0.04) and got[1][1] == pytest.approx(5.04, abs=0.04)
    assert regions_from_flags(np.zeros(0, dtype=bool), 0.0) == []


def test_turns_from_window_labels() -> None:
    regions = [(0.0, 4.0), (4.5, 5.0), (5.5, 9.0)]
    starts = np.array([0.0, 0.5, 1.0, 1.5, 2.0, 2.4, 5.5, 6.0, 6.5, 7.0, 7.4])
    ends = starts + 1.6
    labels = np.array([1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0])
    turns = make_turns(regions, starts, ends, labels)
    # Region 2 is too short for a window: it takes its nearest window's speaker; speakers are
    # renamed in order of first appearance.
    assert [(t.speaker, t.start, t.end) for t in turns] == [
        ("SPEAKER_00", 0.0, 5.0), ("SPEAKER_01", 5.5, 9.0)]
    assert make_turns(regions, starts[:0], ends[:0], labels[:0]) == []


def test_short_runs_are_absorbed() -> None:
    runs = [(0, 0.0, 2.0), (1, 2.0, 2.2), (0, 2.2, 4.0), (1, 4.0, 6.0)]
    assert absorb_short(runs, 0.4) == [(0, 0.0, 4.0), (1, 4.0, 6.0)]


# --------------------------------------------------------------------------- the merge


def _seg(i: int, start: float, end: float, text: str, words: list[Word] | None = None,
         tags: list[TagHit] | None = None) -> Segment:
    return Segment(id=i, start=start, end=end, text=text, emotion="Neutral", valence=0.0,
                   arousal=0.0, words=words or [], tags=tags or [])


def _turns(*spans: tuple[str, float, float]) -> list[SpeakerTurn]:
    return [SpeakerTurn(speaker=s, start=a, end=b) for s, a, b in spans]


def test_segments_take_the_speaker_they_overlap_most() -> None:
    segs = [_seg(1, 0.0, 3.0, "first"), _seg(2, 4.0, 6.0, "second"), _seg(3, 9.5, 10.0, "third")]
    out, speakers = assign_speakers(segs, _turns(("S7", 0.0, 3.2), ("S3", 3.9, 6.0), ("S7", 6.5, 9.0)))
    # Named by first appearance, whatever diarization called them; no overlap: nearest turn.
    assert [s.speaker for s in out] == ["SPEAKER_00", "SPEAKER_01", "SPEAKER_00"]
    assert [(s.id, s.total_speech_s) for s in speakers] == [("SPEAKER_00", 3.5), ("SPEAKER_01", 2.0)]


def test_a_segment_with_words_splits_where_the_speaker_changes() -> None:
    words = [Word(word=" Hello", start=0.0, end=0.5, probability=0.9),
             Word(word=" there.", start=0.5, end=1.0, probability=0.9),
             Word(word=" Yes", start=1.6, end=2.0, probability=0.9),
             Word(word=" indeed.", start=2.0, end=2.6, probability=0.9)]
    text = "Hello there. Yes [laughs] indeed."
    tag = TagHit(tag="laughs", char=text.index("["), time=2.0, emotion="Happy", valence=0.7, arousal=0.6)
    seg = _seg(1, 0.0, 2.8, text, words, [tag])
    out, speakers = assign_speakers([seg], _turns(("a", 0.0, 1.2), ("b", 1.4, 2.8)))
    assert [(s.id, s.speaker, s.start, s.end, s.text) for s in out] == [
        (1, "SPEAKER_00", 0.0, 1.0, "Hello there."),
        (2, "SPEAKER_01", 1.6, 2.8, "Yes [laughs] indeed.")]
    assert [w.start for w in out[1].words] == [1.6, 2.0]  # words keep their times
    moved = out[1].tags[0]
    assert moved.time == 2.0 and out[1].text[moved.char:].startswith("[laughs]")
    assert out[1].emotion == "Happy" and out[0].emotion == "Neutral"
    assert [s.id for s in speakers] == ["SPEAKER_00", "SPEAKER_01"]


def test_a_segment_without_words_splits_by_time() -> None:
    seg = _seg(1, 0.0, 4.0, "one two three four five six seven eight")
    out, _ = assign_speakers([seg], _turns(("a", 0.0, 2.0), ("b", 2.1, 4.0), ("a", 3.9, 4.0)))
    assert [(s.speaker, s.start, s.end) for s in out] == [("SPEAKER_00", 0.0, 2.05), ("SPEAKER_01", 2.05, 4.0)]
    assert " ".join(s.text for s in out) == seg.text


def test_without_turns_every_segment_is_speaker_00() -> None:
    segs = [_seg(1, 0.0, 1.0, "a"), _seg(2, 2.0, 3.5, "b")]
    out, speakers = assign_speakers(segs, None)
    assert {s.speaker for s in out} == {"SPEAKER_00"}
    assert [(s.id, s.total_speech_s) for s in speakers] == [("SPEAKER_00", 2.5)]
    assert assign_speakers([], None) == ([], [])


# --------------------------------------------------------------------------- request checks


def test_speaker_options_are_checked() -> None:
    from gateway.errors import ApiError
    from gateway.service import speaker_options

    assert speaker_options({}) == (None, None, None)
    assert speaker_options({"num_speakers": "3"}) == (3, None, None)
    assert speaker_options({"min_speakers": "2", "max_speakers": "8"}) == (None, 2, 8)
    assert speaker_options({"min_speakers": "2"}, num_speakers=4) == (4, 2, None)
    for bad in ({"num_speakers": "0"}, {"num_speakers": "9"}, {"num_speakers": "two"},
                {"max_speakers": "-1"}, {"min_speakers": "4", "max_speakers": "2"},
                {"num_speakers": "5", "max_speakers": "3"}):
        with pytest.raises(ApiError) as e:
            speaker_options(bad)
        assert e.value.status == 400 and e.value.code == "invalid_speakers", bad


# --------------------------------------------------------------------------- the pipeline


@pytest.fixture(scope="module")
def dialogues(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, list[tuple[str, float, float]]]]:
    root = tmp_path_factory.mktemp("dialogues")
    return {v: dialogue(root / v, alternating(v, 6 if v == "A" else 10)) for v in ("AB", "A")}


def test_pipeline_on_espeak_dialogues(dialogues) -> None:  # type: ignore[no-untyped-def]
    from workers.diarize.pipeline import diarize_audio
    from workers.stt.audio import read_wav

    s = Settings()
    path, truth = dialogues["AB"]
    assert min(b - a for _, a, b in truth) < 2.0  # one turn under 2 s
    out = diarize_audio(read_wav(path), s.diarize, SpeakerCount())
    assert out.speakers == 2 and out.windows > 0
    hyp = [(t.speaker, t.start, t.end) for t in out.turns]
    assert der(truth, hyp + [(s, o.start, o.end) for o in out.overlaps for s in o.speakers]).der <= 0.10
    one = diarize_audio(read_wav(dialogues["A"][0]), s.diarize, SpeakerCount())
    assert one.speakers == 1


def test_a_correction_recomputes_the_speakers() -> None:
    from shared.revisions import apply
    from shared.schemas import Result, ResultCorrection, SpeakerInfo

    base = Result(job_id="job_x", filename="a.wav", duration=6.0, language="en", text="a b", segments=[],
                  speakers=[SpeakerInfo(id="SPEAKER_00", total_speech_s=2.0),
                            SpeakerInfo(id="SPEAKER_01", total_speech_s=2.0)],
                  has_video=False, models={}, timings={}, created_at="t0", finished_at="t1")
    body = ResultCorrection.model_validate({"segments": [
        {"start": 0.0, "end": 2.0, "text": "a", "speaker": "SPEAKER_01"},
        {"start": 2.5, "end": 5.0, "text": "b", "speaker": "SPEAKER_01"}]})
    new = apply(base, body, 2, "t2")
    assert [(s.id, s.total_speech_s) for s in new.speakers] == [("SPEAKER_01", 4.5)]
    assert new.overlaps == []


def test_a_correction_keeps_only_overlaps_of_remaining_speakers() -> None:
    from shared.revisions import apply
    from shared.schemas import Overlap, Result, ResultCorrection, SpeakerInfo

    base = Result(job_id="job_x", filename="a.wav", duration=6.0, language="en", text="a b", segments=[],
                  speakers=[SpeakerInfo(id=f"SPEAKER_0{i}", total_speech_s=2.0) for i in range(3)],
                  overlaps=[Overlap(start=1.0, end=1.5, speakers=["SPEAKER_00", "SPEAKER_01"]),
                            Overlap(start=3.0, end=3.4, speakers=["SPEAKER_01", "SPEAKER_02"])],
                  has_video=False, models={}, timings={}, created_at="t0", finished_at="t1")
    body = ResultCorrection.model_validate({"segments": [
        {"start": 0.0, "end": 2.0, "text": "a", "speaker": "SPEAKER_00"},
        {"start": 2.5, "end": 5.0, "text": "b", "speaker": "SPEAKER_01"}]})
    new = apply(base, body, 2, "t2")  # SPEAKER_02 is gone: its overlap goes with it
    assert [o.speakers for o in new.overlaps] == [["SPEAKER_00", "SPEAKER_01"]]
