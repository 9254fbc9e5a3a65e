"""docs/deploying.md's manifests: the systemd unit (configparser, and ``systemd-analyze verify``
where it is installed), the Dockerfile (buildkit's parser, the ``dockerfile`` package) and the
Kubernetes Deployment (YAML); their rpcgen settings are valid, their timings fit the drain, and
``rpcgen serve`` run with the Deployment's environment answers its probes and ``/metrics``."""

from __future__ import annotations

import configparser
import os
import re
import shutil
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import dockerfile
import pytest
import yaml
from rpcgen.runtime.testing.node import free_port
from rpcgen.settings import SETTINGS, env_name, resolve

from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "deploying.md"
RPCGEN_VARIABLES = {env_name(name) for name in SETTINGS} | {"RPCGEN_CONFIG"}
# What the docs rely on: a drain that ends before SIGKILL, with time to hand back and disconnect.
MARGIN = 5


def blocks(language: str) -> list[str]:
    found = re.findall(rf"^```{language}\n(.*?)^```", PAGE.read_text(), re.M | re.S)
    assert found, f"no {language} block in {PAGE.name}"
    return found


def deployment() -> dict[str, Any]:
    [text] = blocks("yaml")
    document = yaml.safe_load(text)
    assert isinstance(document, dict)
    return document


def container_env(document: dict[str, Any]) -> dict[str, Any]:
    [container] = document["spec"]["template"]["spec"]["containers"]
    return {item["name"]: item for item in container["env"]}


def test_the_systemd_unit() -> None:
    [text] = blocks("ini")
    unit = configparser.ConfigParser(interpolation=None, strict=False)
    unit.optionxform = str  # type: ignore[assignment,method-assign]  # systemd keys are case-sensitive
    unit.read_string(text)
    assert unit.sections() == ["Unit", "Service", "Install"]
    service = unit["Service"]
    assert service["ExecStart"].startswith("/")  # systemd wants an absolute path
    assert service["ExecStart"].split()[1:3] == ["serve", "app:make_server"]
    assert service["KillSignal"] == "SIGTERM"
    environment = dict(
        line.removeprefix("Environment=").split("=", 1)
        for line in text.splitlines()
        if line.startswith("Environment=")
    )
    assert set(environment) <= RPCGEN_VARIABLES
    settings = resolve({}, {k: v for k, v in environment.items() if k != "RPCGEN_CONFIG"})
    assert float(service["TimeoutStopSec"]) >= settings.drain_timeout + MARGIN


def test_the_systemd_unit_verifies(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed: configparser's check above still runs")
    [text] = blocks("ini")
    # verify checks that ExecStart's program exists and is executable.
    program = tmp_path / "rpcgen"
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    text = re.sub(r"^ExecStart=\S+", f"ExecStart={program}", text, flags=re.M)
    text = re.sub(r"^(User|WorkingDirectory)=.*\n", "", text, flags=re.M)
    unit = tmp_path / "orders.service"
    unit.write_text(text)
    done = subprocess.run(
        [analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "Unknown key" not in done.stderr, done.stderr


DOCKERFILE_INSTRUCTIONS = {
    "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK", "LABEL",
    "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR",
}  # fmt: skip


def test_the_dockerfile() -> None:
    [text] = blocks("dockerfile")
    commands = dockerfile.parse_string(text)
    assert {c.cmd for c in commands} <= DOCKERFILE_INSTRUCTIONS
    assert commands[0].cmd == "FROM"
    [cmd] = [c for c in commands if c.cmd == "CMD"]
    assert cmd.json  # exec form: rpcgen serve is process 1 and gets SIGTERM itself
    assert cmd.value[:2] == ("rpcgen", "serve")
    env: dict[str, str] = {}
    for command in (c for c in commands if c.cmd == "ENV"):
        env.update(zip(command.value[::2], command.value[1::2], strict=True))
    rpcgen_env = {k: v for k, v in env.items() if k.startswith("RPCGEN_")}
    assert set(rpcgen_env) <= RPCGEN_VARIABLES
    settings = resolve({}, rpcgen_env)
    [expose] = [c for c in commands if c.cmd == "EXPOSE"]
    assert expose.value == (str(settings.http_port),)
    [stop] = [c for c in commands if c.cmd == "STOPSIGNAL"]
    assert stop.value == ("SIGTERM",)


def test_the_kubernetes_deployment() -> None:
    document = deployment()
    assert (document["apiVersion"], document["kind"]) == ("apps/v1", "Deployment")
    spec = document["spec"]
    labels = spec["template"]["metadata"]["labels"]
    assert spec["selector"]["matchLabels"].items() <= labels.items()
    pod = spec["template"]["spec"]
    [container] = pod["containers"]
    env = container_env(document)
    assert set(env) <= RPCGEN_VARIABLES
    settings = resolve({}, {name: item["value"] for name, item in env.items() if "value" in item})
    [port] = container["ports"]
    assert port["containerPort"] == settings.http_port
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        assert container[probe]["httpGet"] == {"path": path, "port": port["name"]}
    annotations = spec["template"]["metadata"]["annotations"]
    assert settings.metrics and annotations["prometheus.io/path"] == "/metrics"
    assert annotations["prometheus.io/port"] == str(settings.http_port)
    pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    # SIGKILL comes terminationGracePeriodSeconds after preStop began.
    grace = pod["terminationGracePeriodSeconds"]
    assert grace >= float(pre_stop[1]) + settings.drain_timeout + MARGIN


APP = "from tests.integration.impls import Itest\n"


def get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()
    except OSError:
        return 0, ""  # not listening yet


def test_rpcgen_serve_with_the_deployments_environment(amqp_uri: str, tmp_path: Path) -> None:
    document = deployment()
    env = {name: item["value"] for name, item in container_env(document).items() if "value" in item}
    port = free_port()  # the pod's 8080 may be taken on this machine
    env |= {"RPCGEN_AMQP_URI": amqp_uri, "RPCGEN_HTTP_PORT": str(port)}
    (tmp_path / "app.py").write_text(APP)
    proc = subprocess.Popen(
        [sys.executable, "-m", "rpcgen", "serve", "app:Itest"],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip

    def ready() -> bool:
        if get(port, "/readyz") == (200, "ok\n"):
            return True
        assert proc.poll() is None, proc.communicate()[0]  # exited: fail at once, its log
        return False

    try:
        wait_until(ready, 60, what="/readyz 200", interval=0.1)
        assert get(port, "/healthz") == (200, "ok\n")
        status, metrics = get(port, "/metrics")
        assert status == 200 and "rpcgen_connection_up" in metrics
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        output = proc.communicate()[0]
        assert '"level": "INFO"' in output  # RPCGEN_LOG_FORMAT=json
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
