"""Gateway peak RSS while a 1 GiB upload streams into storage.

Starts a private redis-server and the gateway (no workers needed), streams a generated
1 GiB multipart body (chunked, never on disk), then reads the gateway's VmHWM (peak
resident set) from /proc. Target: under 200 MB.

    .venv/bin/python bench/upload_memory.py [--gib 1] [--backend local|s3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import httpx

from ethos_testing.procs import private_stack, vm


def body(total: int, chunk: int = 1024 * 1024):  # type: ignore[no-untyped-def]
    yield b'--B\r\nContent-Disposition: form-data; name="file"; filename="big.wav"\r\n\r\n'
    yield b"RIFF\xff\xff\xff\xffWAVEfmt "
    block = bytes(range(256)) * (chunk // 256)
    sent = 16
    while sent < total:
        n = min(chunk, total - sent)
        yield block[:n]
        sent += n
    yield b"\r\n--B--\r\n"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gib", type=float, default=1.0)
    ap.add_argument("--backend", choices=["local", "s3"], default="local")
    args = ap.parse_args()
    total = int(args.gib * 1024**3)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        moto = None
        env: dict[str, str] = {}
        if args.backend == "s3":
            from moto.server import ThreadedMotoServer

            moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
            moto.start()
            host, port = moto.get_host_and_port()
            env.update({"ETHOS_STORAGE__BACKEND": "s3", "ETHOS_STORAGE__S3_ENDPOINT": f"{host}:{port}",
                        "ETHOS_STORAGE__S3_ACCESS_KEY": "x", "ETHOS_STORAGE__S3_SECRET_KEY": "x",
                        "ETHOS_STORAGE__S3_REGION": "us-east-1"})
        try:
            with private_stack(tmp, ETHOS_LIMITS__MAX_UPLOAD_BYTES=str(total + 1024**2)) as st:
                st.env.update(env)
                gw = st.gateway()
                pid = gw.popen.pid
                before = vm(pid, "VmRSS")
                t0 = time.perf_counter()
                r = httpx.post(st.url + "/v1/jobs", content=body(total),
                               headers={"content-type": "multipart/form-data; boundary=B"}, timeout=600)
                wall = time.perf_counter() - t0
                peak = vm(pid, "VmHWM")
                assert r.status_code == 202, r.text
                job = httpx.get(st.url + f"/v1/jobs/{r.json()['id']}").json()
                print(f"upload_memory: backend={args.backend} size={total / 1024**3:.2f} GiB "
                      f"status={r.status_code} stored={job['media']['size']} bytes")
                print(f"  gateway RSS before upload: {before / 1e6:.1f} MB")
                print(f"  gateway peak RSS (VmHWM):  {peak / 1e6:.1f} MB   target < 200 MB  "
                      f"{'PASS' if peak < 200e6 else 'FAIL'}")
                print(f"  wall {wall:.1f} s, {total / wall / 1e6:.0f} MB/s")
        finally:
            if moto:
                moto.stop()


if __name__ == "__main__":
    main()
