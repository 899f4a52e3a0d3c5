"""``python -m gateway``: serve the gateway with uvicorn."""

from __future__ import annotations

import logging

import uvicorn

from gateway.app import create_app
from shared.settings import get_settings


def main() -> None:
    s = get_settings()
    logging.basicConfig(level=s.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    uvicorn.run(create_app(s), host=s.gateway.host, port=s.gateway.port, log_level=s.log_level.lower())


if __name__ == "__main__":
    main()
