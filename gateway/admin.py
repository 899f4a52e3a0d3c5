"""``ethos-admin keys create|list|revoke``: manage the gateway's API keys in Redis.

Run it where the gateway's settings apply (same ``ETHOS_REDIS__URL``), e.g. in compose:
``docker compose exec gateway ethos-admin keys create --name alice``. The key is printed
once; only its SHA-256 is stored.
"""

from __future__ import annotations

import argparse
import json
import sys

from shared.jobs import connect
from shared.keys import KeyStore
from shared.settings import get_settings


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="ethos-admin", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="group", required=True)
    keys = sub.add_parser("keys", help="API keys").add_subparsers(dest="cmd", required=True)
    create = keys.add_parser("create", help="create a key and print it (once)")
    create.add_argument("--name", default="", help="who or what the key is for")
    keys.add_parser("list", help="every key: id, name, created, revoked (never the key)")
    revoke = keys.add_parser("revoke", help="stop a key from working at once")
    revoke.add_argument("key_id", help="the key's id (the 8 hex characters after ek_)")
    ap.add_argument("--json", action="store_true", help="machine-readable output")
    args = ap.parse_args(argv)

    s = get_settings()
    store = KeyStore(connect(s.redis.url, s.redis.socket_timeout_s), s.redis.key_prefix)
    if args.cmd == "create":
        info, key = store.create(args.name)
        _out(json.dumps({"id": info.id, "name": info.name, "key": key}) if args.json else
             f"key id {info.id} ({info.name or 'no name'}):\n{key}\n"
             "keep it now: only its hash is stored")
    elif args.cmd == "list":
        rows = store.list()
        if args.json:
            _out(json.dumps([vars(k) for k in rows]))
        for k in [] if args.json else rows:
            _out(f"{k.id}  {k.created_at}  {'revoked' if k.revoked else 'active ':7}  {k.name}")
    elif not store.revoke(args.key_id):
        sys.stderr.write(f"no key {args.key_id!r}\n")
        return 1
    else:
        _out(f"key {args.key_id} revoked")
    return 0


if __name__ == "__main__":
    sys.exit(main())
