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
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402

from tests.procs import ROOT, private_stack  # noqa: E402


def vm(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(field)


def pct(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))]


def make_wav(path: Path, mb: float) -> None:
    seconds = mb * 1_000_000 / 32_000  # 16 kHz mono s16
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=16000",
                    "-t", f"{seconds:.2f}", "-ac", "1", "-c:a", "pcm_s16le", str(path)], check=True)


async def run(url: str, key: str, wav: bytes, seconds: float, polls: int, uploads: int, waves: int
              ) -> dict[str, object]:
    headers = {"Authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=uploads + 200, max_keepalive_connections=uploads + 200)
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=120, limits=limits) as c:
        first = await c.post("/v1/jobs", files={"file": ("seed.wav", wav)})
        first.raise_for_status()
        ids: list[str] = [first.json()["id"]]
        up_lat: list[float] = []
        poll_lat: list[float] = []
        errors: list[str] = []
        late: list[float] = []

        async def upload(i: int) -> None:
            t = time.perf_counter()
            try:
                r = await c.post("/v1/jobs", files={"file": (f"load-{i}.wav", wav)})
                if r.status_code != 202:
                    errors.append(f"upload {r.status_code} {r.text[:100]}")
                    return
                ids.append(r.json()["id"])
                up_lat.append(time.perf_counter() - t)
            except httpx.HTTPError as e:
                errors.append(f"upload {type(e).__name__}: {e}")

        async def poll(n: int) -> None:
            t = time.perf_counter()
            try:
                r = await c.get(f"/v1/jobs/{ids[n % len(ids)]}")
                if r.status_code != 200:
                    errors.append(f"poll {r.status_code}")
                    return
                poll_lat.append(time.perf_counter() - t)
            except httpx.HTTPError as e:
                errors.append(f"poll {type(e).__name__}: {e}")

        async def poller() -> None:
            start = time.perf_counter()
            tasks = []
            for n in range(int(seconds * polls)):
                due = start + n / polls
                wait = due - time.perf_counter()
                if wait > 0:
                    await asyncio.sleep(wait)
                else:
                    late.append(-wait)
                tasks.append(asyncio.create_task(poll(n)))
            await asyncio.gather(*tasks)

        async def uploader() -> None:
            for w in range(waves):
                await asyncio.gather(*(upload(w * uploads + i) for i in range(uploads)))

        t0 = time.perf_counter()
        await asyncio.gather(poller(), uploader())
        wall = time.perf_counter() - t0

        # no lost job: every accepted id is readable and listed
        listed = {j["id"] for j in (await c.get("/v1/jobs?limit=200")).json()["jobs"]}
        readable = [(await c.get(f"/v1/jobs/{i}")).status_code == 200 for i in ids]
    return {
        "wall_s": round(wall, 1),
        "uploads_ok": len(up_lat), "uploads_asked": uploads * waves,
        "upload_p50_s": round(pct(up_lat, 0.5), 3), "upload_p99_s": round(pct(up_lat, 0.99), 3),
        "upload_mb_per_s": round(len(up_lat) * len(wav) / 1e6 / max(wall, 1e-9), 1),
        "polls_ok": len(poll_lat), "polls_asked": int(seconds * polls),
        "poll_p50_ms": round(pct(poll_lat, 0.5) * 1000, 1), "poll_p99_ms": round(pct(poll_lat, 0.99) * 1000, 1),
        "poll_mean_ms": round(statistics.fmean(poll_lat) * 1000, 1) if poll_lat else None,
        "polls_sent_late_over_50ms": sum(1 for x in late if x > 0.05),
        "errors": len(errors), "first_errors": errors[:5],
        "jobs_accepted": len(ids), "jobs_listed": len(listed & set(ids)),
        "jobs_readable": sum(readable),
    }


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
            res = asyncio.run(run(st.url, key, wav, a.seconds, a.polls, a.uploads, a.waves))
            res["gateway_rss_idle_mb"] = round(rss_idle / 1e6, 1)
            res["gateway_peak_rss_mb"] = round(vm(gw.popen.pid, "VmHWM") / 1e6, 1)
    res["file_mb"] = round(len(wav) / 1e6, 2)
    res["load_average"] = os.getloadavg()[0]
    sys.stdout.write(json.dumps(res, indent=1) + "\n")
    ok = res["errors"] == 0 and res["jobs_accepted"] == res["jobs_readable"] == a.uploads * a.waves + 1
    sys.stdout.write(("PASS" if ok else "FAIL") + ": no errors and no lost job\n")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
