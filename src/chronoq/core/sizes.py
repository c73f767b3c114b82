"""Memory sizes as people write them: `500MB`, `1GB`, `800M`, `512MiB`, `1.5g`.

Units are binary, as docker and ps count them: K, KB and KiB are 2^10 bytes, M, MB
and MiB 2^20, G, GB and GiB 2^30, T, TB and TiB 2^40 (case does not matter). A
number without a unit (or with B) is bytes. A size is a whole number of bytes, at
least 1.
"""

from __future__ import annotations

import re

UNITS = {"": 0, "b": 0, "k": 10, "m": 20, "g": 30, "t": 40}
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?|\.\d+)\s*([a-z]?)(i?b)?\s*", re.IGNORECASE)
MIB = 2**20

SIZE_HELP = (
    "a number with an optional unit B, K/KB/KiB, M/MB/MiB, G/GB/GiB or T/TB/TiB (1MB = 2^20 bytes)"
)


def parse_size(text: str) -> int:
    """The number of bytes `text` names; ValueError (one line, naming the text) if none."""
    match = _SIZE.fullmatch(text)
    if match is None or not _known_unit(match.group(2).lower(), (match.group(3) or "").lower()):
        raise ValueError(f"invalid size {text!r}: use {SIZE_HELP}")
    size = int(float(match.group(1)) * 2 ** UNITS[match.group(2).lower()])
    if size < 1:
        raise ValueError(f"invalid size {text!r}: must be at least 1 byte")
    return size


def _known_unit(unit: str, suffix: str) -> bool:
    """K, KB, KiB (and so on), B, or nothing; not KiBB, iB or BB."""
    if unit not in UNITS:
        return False
    return not suffix or unit not in ("", "b")


def megabytes(size: int) -> str:
    """`size` in MB (2^20 bytes) for log lines: whole above 10 MB, one decimal below."""
    value = size / MIB
    return f"{value:.0f}" if value >= 10 else f"{value:.1f}"
