"""``python -m workers <celery arguments>``: the Celery command line on the worker app,
e.g. ``python -m workers worker -Q stt -c 1`` or ``python -m workers flower``."""

from __future__ import annotations

import sys

from workers.app import create_worker_app

if __name__ == "__main__":
    create_worker_app().start(sys.argv[1:])
