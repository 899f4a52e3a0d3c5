"""Print the requirements of pyproject extras, one a line, for image builds.

``python3 deploy/requirements.py gateway cpu`` → the core dependencies plus those extras
(``ethos[...]`` references expanded), without installing the project itself: images run
the source tree from /app. ``--without NAME`` drops a requirement (e.g. one installed
with ``--no-deps`` because its metadata pulls torch). Standard library only.
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def _name(req: str) -> str:
    return re.split(r"[\s\[<>=!~;]", req, maxsplit=1)[0].lower().replace("_", "-")


def requirements(extras: list[str], without: set[str], path: Path = PYPROJECT) -> list[str]:
    """Core dependencies plus the named extras, self-references expanded, duplicates dropped."""
    project = tomllib.loads(path.read_text())["project"]
    optional: dict[str, list[str]] = project.get("optional-dependencies", {})
    out: list[str] = []
    seen_extras: set[str] = set()

    def add(reqs: list[str]) -> None:
        for req in reqs:
            m = re.fullmatch(r"ethos\[([\w,\-\s]+)\]", req.strip())
            if m:
                expand([e.strip() for e in m.group(1).split(",")])
            elif _name(req) not in without and req not in out:
                out.append(req)

    def expand(names: list[str]) -> None:
        for name in names:
            if name in seen_extras:
                continue
            if name not in optional:
                raise SystemExit(f"unknown extra {name!r}; known: {', '.join(sorted(optional))}")
            seen_extras.add(name)
            add(optional[name])

    add(project.get("dependencies", []))
    expand(extras)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("extras", nargs="*")
    p.add_argument("--without", action="append", default=[])
    a = p.parse_args(argv)
    sys.stdout.write("\n".join(requirements(a.extras, {_name(w) for w in a.without})) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
