"""docs/tracing.md: every Python sample runs (in a fresh interpreter, from the repo root), and
prints what its ``# `` comment lines under its ``print`` say."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "tracing.md"
SAMPLES = re.findall(r"```python\n(.*?)```", PAGE.read_text(), flags=re.S)


def expected_output(sample: str) -> list[str]:
    """The ``# `` comment lines right after a line that prints, without the ``# ``."""
    expected, after_print = [], False
    for line in sample.splitlines():
        if line.startswith("# ") and after_print:
            expected.append(line[2:])
        else:
            after_print = "print(" in line
            if after_print and expected:
                raise AssertionError("one printing block per sample, please")
    return expected


def test_the_page_has_samples() -> None:
    assert len(SAMPLES) >= 2


@pytest.mark.parametrize("sample", SAMPLES, ids=[f"sample{i}" for i in range(len(SAMPLES))])
def test_sample_runs_and_prints_what_it_says(sample: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", sample],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == expected_output(sample)
