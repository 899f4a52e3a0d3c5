"""What diarization costs and how well it does, on espeak-ng dialogues made here.

1. **Added job time** on a 10-minute two-voice recording: the same file as a job on two
   private stacks (cpu + stt workers; the second also runs a diarize worker with
   diarization on), alternately, ``--rounds`` times each; the job's wall time (created →
   finished) is compared round by round (the two jobs of a round one after the other) and
   median against median. Both share this machine with whatever else runs on it, so the
   figures of one run are quoted together with the machine's load.
2. **DER** (evaluation.der, 0.25-s collar) of the results' segments (and overlaps) against the true turns,
   on the synthetic set: two voices, three voices (automatic count and ``num_speakers=3``),
   one voice, and the 10-minute recording.
3. **Counting again**: the 10-minute job's speakers recounted with ``num_speakers=2``
   (``POST /v1/jobs/{id}/speakers/recount``), its request time against the job's first run.

    .venv/bin/python bench/diarize_cost.py [--minutes 10] [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import wave
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from ethos_testing.dialogue import SENTENCES, alternating, dialogue
from ethos_testing.media import SR
from ethos_testing.procs import Stack, private_stack
from evaluation.der import der

Truth = list[tuple[str, float, float]]


def long_dialogue(folder: Path, minutes: float) -> tuple[Path, Truth]:
    """Two voices taking turns for ``minutes``: every sentence spoken by both voices once
    (20 distinct turns), the sequence repeated, its turns shifted accordingly."""
    turns = [("AB"[i % 2], SENTENCES[(i // 2 + i % 2 * 5) % len(SENTENCES)]) for i in range(20)]
    one, truth = dialogue(folder, turns, name="block.wav")
    with wave.open(str(one)) as w:
        block = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    reps = int(np.ceil(minutes * 60 * SR / len(block)))
    span = len(block) / SR
    out = folder / f"dialogue_{minutes:g}min.wav"
    with wave.open(str(out), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SR)
        w.writeframes(np.tile(block, reps).tobytes())
    return out, [(v, a + k * span, b + k * span) for k in range(reps) for v, a, b in truth]


def wall(job: dict[str, Any]) -> float:
    t = [datetime.fromisoformat(job[k].replace("Z", "+00:00")) for k in ("created_at", "finished_at")]
    return (t[1] - t[0]).total_seconds()


def start(tmp: Path, diarize: bool) -> Any:
    ctx = private_stack(tmp, ETHOS_STT__ENGINE="fasterwhisper",
                        ETHOS_DIARIZE__ENABLED="true" if diarize else "false",
                        ETHOS_LIMITS__MAX_DURATION_S="7200")
    st: Stack = ctx.__enter__()
    st.worker("cpu", 1, name="cpu")
    st.worker("stt", 1, name="stt")
    if diarize:
        st.worker("diarize", 1, name="diarize")
    st.gateway()
    return ctx, st


def run(st: Stack, path: Path, data: dict[str, str] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    r = st.submit(path, data=data)
    assert r.status_code == 202, r.text
    job = st.wait_job(r.json()["id"], timeout=3600)
    assert job["status"] == "succeeded", job
    with st.client() as c:
        return job, c.get(f"/v1/jobs/{job['id']}/result").json()


def hyp(result: dict[str, Any]) -> Truth:
    """The segments' speakers, and both speakers over each overlap."""
    return ([(s["speaker"], s["start"], s["end"]) for s in result["segments"]]
            + [(spk, o["start"], o["end"]) for o in result.get("overlaps") or [] for spk in o["speakers"]])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--rounds", type=int, default=2)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="ethos-diarize-bench-") as t:
        tmp = Path(t)
        long_wav, long_truth = long_dialogue(tmp / "long", a.minutes)
        small = {"two voices": dialogue(tmp / "ab", alternating("AB")),
                 "three voices": dialogue(tmp / "abc", alternating("ABC", 9)),
                 "one voice": dialogue(tmp / "a", alternating("A", 6))}
        off_ctx, off = start(tmp / "off", diarize=False)
        on_ctx, on = start(tmp / "on", diarize=True)
        try:
            # Warm-up: models load on each stack's first job; not timed.
            run(off, small["one voice"][0])
            run(on, small["one voice"][0])
            walls: dict[str, list[float]] = {"off": [], "on": []}
            diar_s, stt_s, long_result = [], [], None
            for _ in range(a.rounds):
                job, _res = run(off, long_wav)
                walls["off"].append(wall(job))
                job, long_result = run(on, long_wav)
                walls["on"].append(wall(job))
                diar_s.append(long_result["timings"]["diarize"])
                stt_s.append(long_result["timings"]["stt"])
            off_m, on_m = statistics.median(walls["off"]), statistics.median(walls["on"])
            print(f"{a.minutes:g}-minute two-voice recording, {a.rounds} job(s) per stack, alternating "
                  f"(load average {os.getloadavg()[0]:.1f}):")
            print(f"  job wall time without diarization: {', '.join(f'{w:.1f}' for w in walls['off'])} s "
                  f"(median {off_m:.1f} s)")
            print(f"  job wall time with diarization:    {', '.join(f'{w:.1f}' for w in walls['on'])} s "
                  f"(median {on_m:.1f} s)")
            ratios = [on / off - 1 for on, off in zip(walls["on"], walls["off"], strict=True)]
            print(f"  per round (the two jobs run one after the other): "
                  f"{', '.join(f'{100 * r:+.1f} %' for r in ratios)}; median {100 * statistics.median(ratios):+.1f} %")
            print(f"  medians: diarization adds {100 * (on_m - off_m) / off_m:+.1f} % to the job's time "
                  f"(diarize task {statistics.median(diar_s):.1f} s = "
                  f"{100 * statistics.median(diar_s) / on_m:.0f} % of the job's wall time, in parallel "
                  f"with stt {statistics.median(stt_s):.1f} s)")
            assert long_result is not None
            # Counting again on the stored windows (POST …/speakers/recount): no audio, no encoder.
            with on.client() as c:
                t0 = time.perf_counter()
                r = c.post(f"/v1/jobs/{long_result['job_id']}/speakers/recount", json={"num_speakers": 2},
                           timeout=300)
                took = time.perf_counter() - t0
            assert r.status_code == 200, r.text
            print(f"  counting the speakers again (num_speakers=2): {took:.2f} s for the request "
                  f"({r.json()['timings']['recount']:.2f} s on the worker) = {100 * took / on_m:.1f} % "
                  f"of the first run; version {r.json()['version']}")
            extra = long_result["models"]["diarize"]
            print(f"  diarize model: {extra['model_id']}, step {extra['extra']['step_s']} s")
            print("DER (0.25-s collar) on the synthetic set:")
            rows = [("10-minute two voices", long_truth, long_result)]
            for name, (path, truth) in small.items():
                rows.append((name, truth, run(on, path)[1]))
            rows.append(("three voices, num_speakers=3", small["three voices"][1],
                         run(on, small["three voices"][0], {"num_speakers": "3"})[1]))
            err = ref = 0.0
            for name, truth, result in rows:
                d = der(truth, hyp(result))
                err += d.der * d.reference_s
                ref += d.reference_s
                print(f"  {name:30s} speakers {len(result['speakers'])} (true {len({v for v, _, _ in truth})}), "
                      f"DER {100 * d.der:.2f} % (missed {d.missed_s:.1f} s, false alarm {d.false_alarm_s:.1f} s, "
                      f"confusion {d.confusion_s:.1f} s of {d.reference_s:.1f} s)")
            print(f"  overall DER {100 * err / ref:.2f} % over {ref:.0f} s of scored speech")
        finally:
            on_ctx.__exit__(None, None, None)
            off_ctx.__exit__(None, None, None)


if __name__ == "__main__":
    main()
