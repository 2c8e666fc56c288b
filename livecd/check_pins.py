#!/usr/bin/python3
"""Fail unless the image's Debian Python libraries are exactly the versions
pyproject.toml pins (the tests run against those).

Usage: check_pins.py PYPROJECT PACKAGES   (PACKAGES: "name version" lines, dpkg-query)
"""

from __future__ import annotations

import re
import sys
import tomllib

#: PyPI distribution -> the Debian package that provides it
DEBIAN = {
    "pyyaml": "python3-yaml",
    "jsonschema": "python3-jsonschema",
    "paramiko": "python3-paramiko",
    "psutil": "python3-psutil",
    "urwid": "python3-urwid",
    "pyparted": "python3-parted",
    "cryptography": "python3-cryptography",
}


def upstream(debian_version: str) -> str:
    """``1:2.12.0-2+b1`` -> ``2.12.0``."""
    return re.sub(r"-[^-]*$", "", debian_version.split(":", 1)[-1])


def mismatches(pins: list[str], installed: dict[str, str]) -> list[str]:
    problems = []
    for pin in pins:
        name, _, version = pin.partition("==")
        package = DEBIAN.get(name.strip().lower())
        if package is None:
            problems.append(f"{name}: no Debian package known for it")
            continue
        have = upstream(installed.get(package, "missing"))
        if have != version.strip():
            problems.append(f"{name}=={version}: the image has {package} {installed.get(package, 'missing')}")
    return problems


def main(argv: list[str]) -> int:
    with open(argv[1], "rb") as f:
        pins = tomllib.load(f)["project"]["dependencies"]
    with open(argv[2], encoding="utf-8") as f:
        installed = dict(line.split(None, 1) for line in f.read().splitlines() if line.strip())
    installed = {k: v.strip() for k, v in installed.items()}
    problems = mismatches(pins, installed)
    for problem in problems:
        print(f"check-pins: {problem}", file=sys.stderr)
    if not problems:
        print(
            "check-pins: " + ", ".join(f"{DEBIAN[p.split('==')[0].lower()]} {p.split('==')[1]}" for p in pins)
        )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
