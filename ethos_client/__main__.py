"""``python -m ethos_client``: the ``ethos`` command."""

import sys

from ethos_client.cli import main

sys.exit(main())
