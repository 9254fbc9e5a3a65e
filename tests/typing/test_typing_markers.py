"""mypy accepts every correct use of generated code and rejects each wrong one, line for line."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
MARKER = re.compile(r"#\s*E:\s*(?P<codes>[a-z-]+(?:\s*,\s*[a-z-]+)*)\s*$")
ERROR = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+): error: .*\[(?P<code>[a-z-]+)\]$")


def mypy(path: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    """mypy --strict with the repo's configuration, from the repo root (where ``generated`` is)."""
    exe = shutil.which("mypy", path=str(Path(sys.executable).parent))
    assert exe, "mypy is not installed next to the running python"
    options = ["--strict", "--config-file", "pyproject.toml", "--cache-dir", str(cache)]
    target = str(path.relative_to(REPO))
    return subprocess.run(
        [exe, *options, "--show-error-codes", "--no-pretty", target],
        capture_output=True,
        text=True,
        cwd=REPO,
    )


def markers(path: Path) -> Counter[tuple[int, str]]:
    found: Counter[tuple[int, str]] = Counter()
    for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
        if match := MARKER.search(line):
            found.update((number, code.strip()) for code in match["codes"].split(","))
    return found


def reported(output: str) -> Counter[tuple[int, str]]:
    return Counter(
        (int(m["line"]), m["code"]) for line in output.splitlines() if (m := ERROR.match(line))
    )


def test_good_usage_passes_mypy_strict(tmp_path: Path) -> None:
    done = mypy(HERE / "good_usage.py", tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


def test_bad_usage_errors_match_the_markers_one_to_one(tmp_path: Path) -> None:
    path = HERE / "bad_usage.py"
    expected = markers(path)
    assert len(expected) >= 25, "the marker parser found too few markers"
    done = mypy(path, tmp_path)
    got = reported(done.stdout)
    assert done.returncode == 1, done.stdout + done.stderr
    missing = sorted((expected - got).elements())
    unexpected = sorted((got - expected).elements())
    assert (missing, unexpected) == ([], []), done.stdout
    # Messages name the method the caller called, never a runtime or private class.
    assert (
        'Argument 2 to "compute" of "HelloServiceClient" has incompatible type "str"; '
        'expected "int"  [arg-type]'
    ) in done.stdout
    assert 'Missing positional argument "b" in call to "compute" of "HelloServiceClient"' in (
        done.stdout
    )
    assert not re.search(r'"__call__"|of "_|special argument', done.stdout)


def test_bad_usage_covers_each_kind_of_mistake() -> None:
    codes = {code for _, code in markers(HERE / "bad_usage.py")}
    assert codes >= {
        "arg-type",  # wrong argument type
        "call-arg",  # missing argument, unknown keyword
        "attr-defined",  # unknown method
        "assignment",  # result used as the wrong type
        "misc",  # awaiting a sync method
        "unused-coroutine",  # not awaiting an async one
        "override",  # server method with the wrong signature
        "abstract",  # server subclass missing a method
    }


def test_good_usage_imports_and_its_servers_instantiate() -> None:
    sys.path.insert(0, str(HERE))
    try:
        import good_usage
    finally:
        sys.path.remove(str(HERE))
    servers = good_usage.servers()
    assert [s.service_name for s in servers] == ["hello_service", "ledger"]


def test_the_documented_async_worker_test_file_passes_mypy_strict(tmp_path: Path) -> None:
    done = mypy(REPO / "tests/memory/test_async_worker.py", tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
