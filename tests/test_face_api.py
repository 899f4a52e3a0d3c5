"""The face results through the API over real worker processes: per-second labels from the
5-fps mean scores, face counts, and every frame with ``?detail=frames``."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from ethos_testing import media
from ethos_testing.procs import private_stack
from workers.fer.models import CLASSES


def test_face_timeline_counts_and_frames(tmp_path: Path, yongen: Path) -> None:
    pattern = tmp_path / "pattern.mp4"
    media.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=1280x720:rate=25", "-t", "3",
               "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(pattern)])
    with private_stack(tmp_path, ETHOS_FER__CHUNK_S="4") as st:
        st.worker("cpu", 1, name="cpu")
        st.worker("fer", 1, name="fer")
        st.gateway()
        job, result = st.run_job(yongen)
        assert job["status"] == "succeeded", job
        assert result is not None and "face_frames" not in result
        timeline, scores, counts = result["face_emotion_timeline"], result["face_scores"], result["face_counts"]
        # Every full second of the 10.7-s clip is labelled, from the mean of its frames' scores.
        assert set(timeline) >= {str(s) for s in range(10)}, timeline
        assert set(timeline.values()) <= set(CLASSES)
        for sec, lab in timeline.items():
            assert lab == max(scores[sec], key=lambda k: scores[sec][k])
        assert set(counts) == set(timeline) and set(counts.values()) == {1}
        assert result["models"]["fer"]["extra"]["detector"] == "blazeface"
        assert result["models"]["fer"]["extra"]["fps"] == 5.0
        with st.client() as c:
            r = c.get(f"/v1/jobs/{job['id']}/result", params={"detail": "frames"})
            assert r.status_code == 200
            frames = r.json()["face_frames"]
            assert len(frames) == sum(ch["frames"] for ch in result["face_chunks"]) >= 52
            ts = [f["t"] for f in frames]
            assert ts == sorted(ts) and len(set(ts)) == len(ts) and ts[:3] == [0.1, 0.3, 0.5]
            by_sec: dict[str, list[dict[str, float]]] = defaultdict(list)
            for f in frames:
                assert f["label"] in CLASSES and f["faces"] == 1
                by_sec[str(int(f["t"]))].append(f["scores"])
            for sec, rows in by_sec.items():  # face_scores are the per-second means
                for k, v in scores[sec].items():
                    assert abs(sum(r[k] for r in rows) / len(rows) - v) < 1e-3
            # Bad detail values are refused; the plain result is unchanged.
            bad = c.get(f"/v1/jobs/{job['id']}/result", params={"detail": "everything"})
            assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_request"
            bad = c.get(f"/v1/jobs/{job['id']}/result", params={"detail": "frames", "format": "srt"})
            assert bad.status_code == 400 and "JSON" in bad.json()["error"]["message"]

        # A video without a face: no labels, no counts, every frame without a face.
        job2, result2 = st.run_job(pattern)
        assert job2["status"] == "succeeded", job2
        assert result2 is not None
        assert result2["face_emotion_timeline"] == {} and result2["face_counts"] == {}
        assert result2["frames_without_face"] == 15
        with st.client() as c:
            frames2 = c.get(f"/v1/jobs/{job2['id']}/result?detail=frames").json()["face_frames"]
            assert len(frames2) == 15 and all(f["label"] is None and f["faces"] == 0 for f in frames2)
            # Deleted: the frames go with the result.
            assert c.delete(f"/v1/jobs/{job2['id']}").status_code == 200
            gone = c.get(f"/v1/jobs/{job2['id']}/result?detail=frames")
            assert gone.status_code == 410
