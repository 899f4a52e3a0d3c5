"""The ``ethos`` command: submit, follow and fetch jobs from a running Ethos server."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import httpx

from ethos_client.client import DEFAULT_URL, FORMATS, EthosClient, EthosError


def _out(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    sys.stdout.flush()


def _clock(t: float) -> str:
    m, s = divmod(max(t, 0.0), 60)
    return f"{int(m):02d}:{s:04.1f}"


def _follow(c: EthosClient, job_id: str, label: str, show_segments: bool) -> dict[str, Any]:
    """Follow a job's websocket with a progress bar; the final job record."""
    from tqdm import tqdm

    with tqdm(total=100, desc=label, unit="%", file=sys.stderr, leave=True,
              bar_format="{desc}: {percentage:3.0f}%|{bar}| {postfix}") as bar:
        for ev in c.events(job_id):
            if "progress" in ev:
                bar.update(max(0, round(ev["progress"] * 100) - bar.n))
            if ev.get("stage"):
                bar.set_postfix_str(ev["stage"])
            if show_segments and ev.get("type") == "segment":
                bar.write(f"[{_clock(ev['start'])}–{_clock(ev['end'])}] {ev.get('speaker', '')} "
                          f"({ev.get('emotion', '')}) {ev.get('text', '').strip()}", file=sys.stdout)
            if ev.get("type") == "done":
                bar.update(100 - bar.n)
    return c.job(job_id)


def cmd_submit(c: EthosClient, a: argparse.Namespace) -> int:
    ids = []
    for f in a.files:
        job = c.submit(f, language=a.language, num_speakers=a.num_speakers)
        ids.append((f, job["id"]))
        _out(job["id"])
    if not a.wait:
        return 0
    failed = 0
    for f, jid in ids:
        job = _follow(c, jid, Path(f).name, show_segments=False)
        if job["status"] != "succeeded":
            failed += 1
            err = (job.get("error") or {}).get("message", "")
            sys.stderr.write(f"{jid} {job['status']}: {err}\n")
        else:
            sys.stderr.write(f"{jid} succeeded\n")
    return 1 if failed else 0


def cmd_status(c: EthosClient, a: argparse.Namespace) -> int:
    _out(json.dumps(c.job(a.id), indent=2))
    return 0


def cmd_result(c: EthosClient, a: argparse.Namespace) -> int:
    res = c.result(a.id, a.format)
    text = json.dumps(res, indent=2, ensure_ascii=False) if isinstance(res, dict) else res
    if a.output:
        Path(a.output).write_text(text, encoding="utf-8")
    else:
        _out(text)
    return 0


def cmd_jobs(c: EthosClient, a: argparse.Namespace) -> int:
    for j in c.jobs(a.limit):
        _out(f"{j['id']}  {j['status']:<9}  {round(j['progress'] * 100):>3}%  {j['created_at']}  "
             f"{j['media']['filename']}")
    return 0


def cmd_cancel(c: EthosClient, a: argparse.Namespace) -> int:
    job = c.cancel(a.id)
    _out(f"{job['id']} {job['status']}")
    return 0


def cmd_speakers(c: EthosClient, a: argparse.Namespace) -> int:
    res = c.recount_speakers(a.id, a.num, a.min, a.max)
    spk = ", ".join(f"{x['id']} {x['total_speech_s']:.1f} s" for x in res.get("speakers", []))
    _out(f"{a.id} version {res.get('version')}: {len(res.get('speakers', []))} speakers ({spk})")
    return 0


def cmd_webhook_secret(c: EthosClient, a: argparse.Namespace) -> int:
    got = c.webhook_secret(rotate=a.rotate)
    _out(got["secret"])
    if got.get("previous_valid_until"):
        sys.stderr.write(f"the previous secret still signs until {got['previous_valid_until']}\n")
    return 0


def cmd_watch(c: EthosClient, a: argparse.Namespace) -> int:
    job = _follow(c, a.id, a.id, show_segments=True)
    _out(f"{job['id']} {job['status']}")
    return 0 if job["status"] == "succeeded" else 1


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ethos", description="Talk to an Ethos server.")
    p.add_argument("--url", default=os.environ.get("ETHOS_URL", DEFAULT_URL),
                   help="server address (env ETHOS_URL; default %(default)s)")
    # The key from the environment or a file: a command-line argument shows in `ps` to every
    # user of the machine.
    p.add_argument("--api-key-file", default=os.environ.get("ETHOS_API_KEY_FILE"),
                   help="file whose first line is the API key (env ETHOS_API_KEY_FILE); or set ETHOS_API_KEY")
    p.add_argument("--api-key", default=None,
                   help="API key (discouraged: other users see it in `ps`; use ETHOS_API_KEY or --api-key-file)")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("submit", help="upload files as jobs; prints one job id a line")
    s.add_argument("files", nargs="+")
    s.add_argument("--wait", action="store_true", help="follow each job to its end with a progress bar")
    s.add_argument("--language", default=None)
    s.add_argument("--num-speakers", type=int, default=None)
    s.set_defaults(fn=cmd_submit)
    for name, fn, what in [("status", cmd_status, "a job's record as JSON"),
                           ("cancel", cmd_cancel, "cancel a job and delete its media and result"),
                           ("watch", cmd_watch, "print segments as they arrive")]:
        x = sub.add_parser(name, help=what)
        x.add_argument("id")
        x.set_defaults(fn=fn)
    r = sub.add_parser("result", help="a finished job's result")
    r.add_argument("id")
    r.add_argument("--format", choices=FORMATS, default="json")
    r.add_argument("-o", "--output", default=None, help="write to this file instead of stdout")
    r.set_defaults(fn=cmd_result)
    k = sub.add_parser("speakers", help="count a finished job's speakers again (a new result version)")
    k.add_argument("id")
    k.add_argument("--num", type=int, default=None, help="exactly this many speakers (default: automatic)")
    k.add_argument("--min", type=int, default=None, help="at least this many")
    k.add_argument("--max", type=int, default=None, help="at most this many")
    k.set_defaults(fn=cmd_speakers)
    j = sub.add_parser("jobs", help="recent jobs, newest first")
    j.add_argument("--limit", type=int, default=50)
    j.set_defaults(fn=cmd_jobs)
    w = sub.add_parser("webhook-secret", help="print the secret that signs this key's callbacks")
    w.add_argument("--rotate", action="store_true",
                   help="replace it (the previous one still signs beside it for a grace period)")
    w.set_defaults(fn=cmd_webhook_secret)
    return p


def main(argv: list[str] | None = None) -> int:
    a = parser().parse_args(argv)
    try:
        key = a.api_key
        if key is None and a.api_key_file:
            words = Path(a.api_key_file).read_text().split()
            key = words[0] if words else ""
        with EthosClient(a.url, api_key=key) as c:
            return int(a.fn(c, a))
    except EthosError as e:
        sys.stderr.write(f"ethos: {e}\n")
        return 2 if e.status == 404 else 1
    except (httpx.HTTPError, OSError) as e:
        sys.stderr.write(f"ethos: {e}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())
