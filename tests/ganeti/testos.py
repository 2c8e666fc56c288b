"""A test-only Ganeti OS definition (API 20) whose scripts record what Ganeti gave them.

``create`` saves its environment to /var/log/ganeti/testos/<instance>.create.env
and writes a marker into the first sector of disk 0; the other scripts only log
that they ran. It proves the lab runs OS scripts the way a real OS definition
(p2v-target) will be run.
"""

from __future__ import annotations

import os
from pathlib import Path

NAME = "testos"
RECORD_DIR = "/var/log/ganeti/testos"
"""As the lab sees it (the lab's own /var/log/ganeti)."""

CREATE = f"""#!/bin/sh
set -eu
mkdir -p {RECORD_DIR}
env | sort > "{RECORD_DIR}/$INSTANCE_NAME.create.env"
printf 'TESTOS-MARKER %s\\n' "$INSTANCE_NAME" |
  dd of="$DISK_0_PATH" bs=512 count=1 conv=sync,notrunc 2>/dev/null
echo "testos: created $INSTANCE_NAME on $DISK_0_PATH"
"""
LOG_ONLY = f"""#!/bin/sh
set -eu
mkdir -p {RECORD_DIR}
echo "$(basename "$0") ${{INSTANCE_NAME:-}}" >> "{RECORD_DIR}/calls.log"
"""
EXPORT = f"""#!/bin/sh
set -eu
echo "export $INSTANCE_NAME" >> "{RECORD_DIR}/calls.log"
exec dd if="$DISK_0_PATH" bs=1M 2>/dev/null
"""
IMPORT = f"""#!/bin/sh
set -eu
echo "import $INSTANCE_NAME" >> "{RECORD_DIR}/calls.log"
exec dd of="$DISK_0_PATH" bs=1M 2>/dev/null
"""


def write_test_os(os_dir_host: Path) -> Path:
    """Install the definition under the lab's OS directory (host path); returns it."""
    d = os_dir_host / NAME
    d.mkdir(parents=True, exist_ok=True)
    (d / "ganeti_api_version").write_text("20\n", encoding="ascii")
    (d / "variants.list").write_text("default\n", encoding="ascii")
    (d / "parameters.list").write_text("", encoding="ascii")
    scripts = {"create": CREATE, "import": IMPORT, "export": EXPORT, "rename": LOG_ONLY, "verify": LOG_ONLY}
    for name, text in scripts.items():
        (d / name).write_text(text, encoding="ascii")
        os.chmod(d / name, 0o755)
    return d


def parse_env(text: str) -> dict[str, str]:
    """``env | sort`` output (single-line values) as a mapping."""
    env = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.isidentifier():
            env[key] = value
    return env
