"""``python -m gateway``: serve the gateway with uvicorn."""

from __future__ import annotations

import uvicorn

from gateway.app import create_app
from shared import logs
from shared.settings import get_settings


def main() -> None:
    s = get_settings()
    logs.configure("gateway", s.log_level, s.log_format)
    # log_config=None: uvicorn's loggers go through the handler configured above.
    uvicorn.run(create_app(s), host=s.gateway.host, port=s.gateway.port, log_level=s.log_level.lower(),
                log_config=None)


if __name__ == "__main__":
    main()
