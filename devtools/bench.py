"""What every bench result records about the run (bench/*.py)."""

from __future__ import annotations

import os
import platform
import time
from typing import Any


def run_header(loads: list[tuple[float, float, float]], note: str) -> dict[str, Any]:
    """`when` (UTC) and `machine` (CPUs, Python, the 1-minute load average at each `loads`
    sample taken with os.getloadavg(), a note on the machine's sharing)."""
    return {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_avg_1m": [round(x[0], 2) for x in loads],
            "note": note,
        },
    }
