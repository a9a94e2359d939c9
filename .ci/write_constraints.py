"""Print constraints.txt: the exact installed version of everything resta-bench[dev,ray] depends on.

Run in the environment the README's set-up made: ``python .ci/write_constraints.py > constraints.txt``.
"""

from __future__ import annotations

import importlib.metadata as metadata

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

HEADER = """\
# Exact versions the demo's figures and CI were produced with (Python 3.11, Linux x86_64, CPU torch).
# Used as: pip install -c constraints.txt ...  (README set-up, .ci/run). Regenerate with
# python .ci/write_constraints.py > constraints.txt after an upgrade, then re-run the demo and update
# the README's demo tables."""


def closure(name: str, extras: tuple[str, ...], versions: dict[str, str]) -> None:
    """Adds ``name`` and, recursively, what it requires (with ``extras``) to ``versions``."""
    try:
        distribution = metadata.distribution(name)
    except metadata.PackageNotFoundError:  # an optional dependency that is not installed here
        return
    versions[canonicalize_name(name)] = distribution.version
    for line in distribution.requires or []:
        requirement = Requirement(line)
        wanted = requirement.marker is None or any(
            requirement.marker.evaluate({"extra": extra}) for extra in ("", *extras)
        )
        if wanted and canonicalize_name(requirement.name) not in versions:
            closure(requirement.name, tuple(requirement.extras), versions)


def main() -> None:
    versions: dict[str, str] = {}
    closure("resta-bench", ("dev", "ray"), versions)
    del versions["resta-bench"]
    print(HEADER)
    for name in sorted(versions):
        # The local label (+cpu) names where torch came from, not what it is; `torch==2.13.0` matches it.
        print(f"{name}=={versions[name].split('+')[0]}")


if __name__ == "__main__":
    main()
