"""Fail when tests/ waits by the clock outside the reviewed list in tests/sleeps-allowed.txt.

A test synchronises on what it can observe (tests/waiting.py); a bare ``time.sleep(...)`` or
``asyncio.sleep(...)`` (or a ``sleep`` imported from either) is allowed only where the list says
why, and only as many times as it says. Run by scripts/test; prints each offence.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ALLOWED = ROOT / "tests" / "sleeps-allowed.txt"
SLEEP = re.compile(
    r"\b(?:time|asyncio|trio|anyio)\.sleep\(|^\s*from (?:time|asyncio) import .*\bsleep\b"
)


def allowed() -> dict[str, int]:
    """Path -> the number of sleeps the list allows in it."""
    counts: dict[str, int] = {}
    for number, line in enumerate(ALLOWED.read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = [field.strip() for field in line.split("|")]
        if len(fields) != 3 or not fields[1].isdigit() or not fields[2]:
            sys.exit(f"{ALLOWED}:{number}: expected 'path | count | why', got {line!r}")
        counts[fields[0]] = int(fields[1])
    return counts


def found() -> dict[str, list[str]]:
    """Path -> its lines that sleep (``path:line: text``)."""
    hits: dict[str, list[str]] = {}
    for path in sorted((ROOT / "tests").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if SLEEP.search(line):
                hits.setdefault(rel, []).append(f"{rel}:{number}: {line.strip()}")
    return hits


def main() -> int:
    allow, hits = allowed(), found()
    problems = []
    for rel, lines in hits.items():
        if len(lines) != allow.get(rel, 0):
            problems.append(
                f"{rel}: {len(lines)} sleeps, {allow.get(rel, 0)} allowed:\n  " + "\n  ".join(lines)
            )
    for rel, count in allow.items():
        if rel not in hits and count:
            problems.append(f"{rel}: listed with {count} sleeps but has none (update the list)")
    if problems:
        print("tests wait by the clock; wait for a condition (tests/waiting.py) instead,")
        print(f"or add the use to {ALLOWED.relative_to(ROOT)} with a reason:")
        print("\n".join(problems))
        return 1
    total = sum(len(lines) for lines in hits.values())
    print(f"no clock waits in tests/: {total} allowed sleeps in {len(hits)} files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
