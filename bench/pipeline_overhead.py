"""Pipeline overhead: POST → succeeded for a 1-s file with no speech, median over N jobs.

Runs the real stack as separate processes (private redis-server, gateway, a cpu worker
and an stt worker on local storage), submits N jobs one after another and polls each job
every 5 ms. What it measures is the cost of the machinery (upload, Redis, Celery hops,
probe, audio extraction, VAD, merge), not of speech recognition. Target: ≤ 0.5 s median.

    .venv/bin/python bench/pipeline_overhead.py [--jobs 20]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from ethos_testing.media import silence
from ethos_testing.procs import private_stack


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=20)
    ap.add_argument("--backend", choices=["local"], default="local")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        wav = silence(1.0, tmp / "silent.wav")
        with private_stack(tmp, ETHOS_STT__ENGINE="fasterwhisper") as st:
            st.worker("cpu", 2, name="cpu")
            st.worker("stt", 1, name="stt")
            st.gateway()
            data = wav.read_bytes()
            times: list[float] = []
            stages: dict[str, list[float]] = {}
            with httpx.Client(base_url=st.url, timeout=30) as c:
                for i in range(args.jobs + 1):  # the first job warms the workers up
                    t0 = time.perf_counter()
                    r = c.post("/v1/jobs", files={"file": ("silent.wav", data)})
                    job_id = r.json()["id"]
                    while True:
                        j = c.get(f"/v1/jobs/{job_id}").json()
                        if j["status"] in ("succeeded", "failed"):
                            break
                        time.sleep(0.005)
                    dt = time.perf_counter() - t0
                    assert j["status"] == "succeeded", j
                    if i == 0:
                        continue
                    times.append(dt)
                    res = c.get(f"/v1/jobs/{job_id}/result").json()
                    for k, v in res["timings"].items():
                        stages.setdefault(k, []).append(v)
            med = statistics.median(times)
            print(f"pipeline_overhead: {args.jobs} jobs of a 1-s silent WAV, local storage, faster-whisper engine")
            print(f"  POST→succeeded median {med:.3f} s  p90 {sorted(times)[int(0.9 * len(times)) - 1]:.3f} s  "
                  f"min {min(times):.3f} s  max {max(times):.3f} s   target ≤ 0.5 s  {'PASS' if med <= 0.5 else 'FAIL'}")
            print("  inside the tasks (median s): " + ", ".join(
                f"{k} {statistics.median(v):.3f}" for k, v in sorted(stages.items())))


if __name__ == "__main__":
    main()
