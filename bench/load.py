"""Load on the gateway: concurrent 10 MB uploads while status polls run at a fixed rate.

Starts a private redis-server and the gateway on loopback (API keys required, the per-key
limits off so the load is not refused; no workers, so every accepted job stays queued and
can be counted), then for ``--seconds`` (default 60) fires ``--polls`` GET /v1/jobs/{id}
per second (default 200, on a schedule, not back to back) while ``--uploads`` (default 50)
uploads of a ``--mb`` MB WAV run at once, in ``--waves`` waves (default 1). Prints upload
and poll latencies (p50/p99), errors, whether every accepted job is in the store (listed and
readable), and the gateway's peak RSS (VmHWM). Bounded: it stops after the poll schedule
and the last upload wave.

    .venv/bin/python bench/load.py [--seconds 60] [--polls 200] [--uploads 50] [--mb 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from ethos_testing.procs import ROOT, private_stack, vm

POLLERS = 40  # concurrent polling clients sharing the poll rate


def pct(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))]


def make_wav(path: Path, mb: float) -> None:
    seconds = mb * 1_000_000 / 32_000  # 16 kHz mono s16
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=16000",
                    "-t", f"{seconds:.2f}", "-ac", "1", "-c:a", "pcm_s16le", str(path)], check=True)


async def poll_loop(url: str, key: str, ids: list[str], seconds: float, polls: int) -> dict[str, object]:
    """GET /v1/jobs/{id} at ``polls`` a second for ``seconds``: POLLERS clients, each on its own
    schedule (one request every POLLERS/polls s); a client whose answer comes late sends its
    next at once, so the rate reached shows what the gateway kept up with. Bounded: no request
    starts after ``seconds`` and each times out after 10 s."""
    lat: list[float] = []
    errors: list[str] = []
    late = [0]
    limits = httpx.Limits(max_connections=POLLERS, max_keepalive_connections=POLLERS)
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=10,
                                 limits=limits) as c:
        start = time.perf_counter()
        step = POLLERS / polls

        async def client(k: int) -> None:
            n = 0
            while True:
                due = start + k * step / POLLERS + n * step
                if due - start >= seconds or time.perf_counter() - start >= seconds:
                    return  # requests the gateway could not take in time are not sent
                wait = due - time.perf_counter()
                if wait > 0:
                    await asyncio.sleep(wait)
                elif wait < -0.05:
                    late[0] += 1
                t = time.perf_counter()
                try:
                    r = await c.get(f"/v1/jobs/{ids[(k + n) % len(ids)]}")
                    if r.status_code == 200:
                        lat.append(time.perf_counter() - t)
                    else:
                        errors.append(f"poll {r.status_code}")
                except httpx.HTTPError as e:
                    errors.append(f"poll {type(e).__name__}: {e}")
                n += 1

        await asyncio.gather(*(client(k) for k in range(POLLERS)))
        wall = time.perf_counter() - start
    return {"polls_asked": int(seconds * polls), "polls_ok": len(lat), "poll_wall_s": round(wall, 1),
            "poll_rate_reached_per_s": round(len(lat) / wall, 1),
            "poll_p50_ms": round(pct(lat, 0.5) * 1000, 1), "poll_p99_ms": round(pct(lat, 0.99) * 1000, 1),
            "poll_mean_ms": round(statistics.fmean(lat) * 1000, 1) if lat else None,
            "polls_sent_over_50ms_late": late[0], "poll_errors": len(errors), "first_poll_errors": errors[:5]}


def poller_process(url: str, key: str, ids: list[str], seconds: float, polls: int, out: Path) -> None:
    """The poll schedule in a process of its own, so uploads do not slow the client side."""
    out.write_text(json.dumps(asyncio.run(poll_loop(url, key, ids, seconds, polls))))


async def upload_waves(url: str, key: str, wav: bytes, uploads: int, waves: int) -> tuple[dict[str, object], list[str]]:
    lat: list[float] = []
    errors: list[str] = []
    ids: list[str] = []
    limits = httpx.Limits(max_connections=uploads, max_keepalive_connections=uploads)
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=180,
                                 limits=limits) as c:
        async def upload(i: int) -> None:
            t = time.perf_counter()
            try:
                r = await c.post("/v1/jobs", files={"file": (f"load-{i}.wav", wav)})
                if r.status_code != 202:
                    errors.append(f"upload {r.status_code} {r.text[:100]}")
                    return
                ids.append(r.json()["id"])
                lat.append(time.perf_counter() - t)
            except httpx.HTTPError as e:
                errors.append(f"upload {type(e).__name__}: {e}")

        t0 = time.perf_counter()
        for w in range(waves):
            await asyncio.gather(*(upload(w * uploads + i) for i in range(uploads)))
        wall = time.perf_counter() - t0
    return {"uploads_ok": len(lat), "uploads_asked": uploads * waves, "uploads_wall_s": round(wall, 1),
            "upload_p50_s": round(pct(lat, 0.5), 3), "upload_p99_s": round(pct(lat, 0.99), 3),
            "upload_mb_per_s": round(len(lat) * len(wav) / 1e6 / max(wall, 1e-9), 1),
            "upload_errors": len(errors), "first_upload_errors": errors[:5]}, ids


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--polls", type=int, default=200, help="status polls per second")
    ap.add_argument("--uploads", type=int, default=50, help="uploads at once")
    ap.add_argument("--waves", type=int, default=1)
    ap.add_argument("--mb", type=float, default=10)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        wav_path = tmp / "load.wav"
        make_wav(wav_path, a.mb)
        wav = wav_path.read_bytes()
        with private_stack(tmp, ETHOS_AUTH__REQUIRED="true", ETHOS_AUTH__REQUESTS_PER_MINUTE="0",
                           ETHOS_AUTH__MAX_ACTIVE_JOBS="0") as st:
            gw = st.gateway()
            out = subprocess.run([sys.executable, "-m", "gateway.admin", "--json", "keys", "create", "--name", "load"],
                                 cwd=ROOT, env={**os.environ, **st.env}, capture_output=True, text=True, check=True)
            key = json.loads(out.stdout)["key"]
            rss_idle = vm(gw.popen.pid, "VmRSS")
            seed = httpx.post(st.url + "/v1/jobs", files={"file": ("seed.wav", wav)},
                              headers={"Authorization": f"Bearer {key}"}, timeout=120)
            seed.raise_for_status()
            poll_out = tmp / "polls.json"
            poller = multiprocessing.get_context("spawn").Process(
                target=poller_process, args=(st.url, key, [seed.json()["id"]], a.seconds, a.polls, poll_out))
            poller.start()
            res, ids = asyncio.run(upload_waves(st.url, key, wav, a.uploads, a.waves))
            poller.join(a.seconds + 60)
            if poller.is_alive():
                poller.kill()
            res.update(json.loads(poll_out.read_text()) if poll_out.exists() else {"polls": "did not finish"})
            ids.append(seed.json()["id"])
            with httpx.Client(base_url=st.url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as c:
                listed = {j["id"] for j in c.get("/v1/jobs?limit=200").json()["jobs"]}
                res["jobs_accepted"] = len(ids)
                res["jobs_listed"] = len(listed & set(ids))
                res["jobs_readable"] = sum(c.get(f"/v1/jobs/{i}").status_code == 200 for i in ids)
            res["gateway_rss_idle_mb"] = round(rss_idle / 1e6, 1)
            res["gateway_peak_rss_mb"] = round(vm(gw.popen.pid, "VmHWM") / 1e6, 1)
    res["file_mb"] = round(len(wav) / 1e6, 2)
    res["load_average"] = os.getloadavg()[0]
    sys.stdout.write(json.dumps(res, indent=1) + "\n")
    ok = (res["upload_errors"] == 0 and res.get("poll_errors") == 0
          and res.get("polls_ok") == res.get("polls_asked")
          and res["jobs_accepted"] == res["jobs_readable"] == res["jobs_listed"] == a.uploads * a.waves + 1)
    sys.stdout.write(("PASS" if ok else "FAIL") + ": no errors and no lost job\n")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
