"""``rpcgen serve``'s settings: flag > ``RPCGEN_*`` > the config file's ``[serve]`` > default."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from rpcgen.settings import SETTINGS, ServeSettings, SettingsError, env_name, resolve

CONFIG = """
[serve]
amqp_uri = ["amqp://a/", "amqp://b/"]
exchange = "from-file"
max_workers = 3
prefetch = 30
startup_timeout = 5
log_format = "json"
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "rpcgen.toml"
    path.write_text(CONFIG)
    return path


def test_defaults_without_any_source() -> None:
    assert resolve({}, {}) == ServeSettings()
    assert ServeSettings().exchange == "nameko-rpc"


def test_the_file_beats_defaults(config: Path) -> None:
    settings = resolve({}, {}, config)
    assert settings.amqp_uri == ("amqp://a/", "amqp://b/")
    assert settings.exchange == "from-file"
    assert (settings.max_workers, settings.prefetch) == (3, 30)
    assert settings.startup_timeout == 5.0
    assert settings.log_format == "json"
    assert settings.log_level == "INFO"  # not in the file: the default


def test_the_environment_beats_the_file_and_flags_beat_both(config: Path) -> None:
    environ = {"RPCGEN_EXCHANGE": "from-env", "RPCGEN_MAX_WORKERS": "4", "RPCGEN_PREFETCH": "40"}
    settings = resolve({"prefetch": 50}, environ, config)
    assert settings.exchange == "from-env"
    assert settings.max_workers == 4
    assert settings.prefetch == 50  # the flag
    assert settings.amqp_uri == ("amqp://a/", "amqp://b/")  # only the file says


def test_rpcgen_config_names_the_file_and_config_flag_beats_it(
    config: Path, tmp_path: Path
) -> None:
    assert resolve({}, {"RPCGEN_CONFIG": str(config)}).exchange == "from-file"
    other = tmp_path / "other.toml"
    other.write_text('[serve]\nexchange = "other"\n')
    assert resolve({}, {"RPCGEN_CONFIG": str(config)}, other).exchange == "other"


def test_environment_uris_are_comma_separated_for_failover() -> None:
    environ = {"RPCGEN_AMQP_URI": "amqp://a/, amqp://b/"}
    assert resolve({}, environ).amqp_uri == ("amqp://a/", "amqp://b/")


def test_every_setting_has_one_environment_variable() -> None:
    assert env_name("max_workers") == "RPCGEN_MAX_WORKERS"
    assert set(SETTINGS) >= {"amqp_uri", "exchange", "max_workers", "prefetch", "queue_type"}


@pytest.mark.parametrize(
    ("flags", "environ", "message"),
    [
        ({"max_workers": 0}, {}, "--max-workers: 0: expected a whole number of at least 1"),
        ({}, {"RPCGEN_PREFETCH": "many"}, "$RPCGEN_PREFETCH: 'many': not a number"),
        ({}, {"RPCGEN_LOG_LEVEL": "loud"}, "expected one of DEBUG, INFO"),
        ({"log_format": "xml"}, {}, "--log-format: 'xml': expected one of text, json"),
        ({}, {"RPCGEN_STARTUP_TIMEOUT": "-1"}, "expected a number of seconds"),
    ],
)
def test_a_bad_value_names_its_source(
    flags: dict[str, object], environ: dict[str, str], message: str
) -> None:
    with pytest.raises(SettingsError, match=message.replace("$", r"\$")):
        resolve(flags, environ)


def test_file_errors_name_the_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[serve]\nmax_workers = 'x'\n")
    with pytest.raises(SettingsError, match=r"bad.toml: \[serve\] max_workers: 'x'"):
        resolve({}, {}, path)
    path.write_text("[serve]\nworkers = 3\n")
    with pytest.raises(SettingsError, match=r"\[serve\] workers: unknown setting; known: amqp_uri"):
        resolve({}, {}, path)
    path.write_text("max_workers = 3\n")
    with pytest.raises(SettingsError, match="settings go in the \\[serve\\] table"):
        resolve({}, {}, path)
    path.write_text("[serve\n")
    with pytest.raises(SettingsError, match=r"bad\.toml: not valid TOML"):
        resolve({}, {}, path)
    with pytest.raises(SettingsError, match="cannot read the config file"):
        resolve({}, {}, tmp_path / "missing.toml")


def test_the_cli_pages_sample_file(tmp_path: Path) -> None:
    page = (Path(__file__).resolve().parents[2] / "docs" / "cli.md").read_text()
    [sample] = re.findall(r"^```toml\n(.*?)^```", page, re.M | re.S)
    path = tmp_path / "rpcgen.toml"
    path.write_text(sample)
    settings = resolve({}, {}, path)
    assert settings.amqp_uri == ("amqp://user:pass@rabbit-1/", "amqp://user:pass@rabbit-2/")
    assert (settings.queue_type, settings.http_port, settings.metrics) == ("quorum", 8080, True)
    assert settings.log_format == "json"
    assert resolve({}, {"RPCGEN_METRICS": "no"}, path).metrics is False


def test_max_concurrency_follows_the_same_precedence(tmp_path: Path) -> None:
    path = tmp_path / "rpcgen.toml"
    path.write_text("[serve]\nmax_concurrency = 200\n")
    assert resolve({}, {}).max_concurrency is None  # the runner's default: the prefetch
    assert resolve({}, {}, path).max_concurrency == 200
    environ = {"RPCGEN_MAX_CONCURRENCY": "300"}
    assert resolve({}, environ, path).max_concurrency == 300
    assert resolve({"max_concurrency": 400}, environ, path).max_concurrency == 400
    with pytest.raises(SettingsError, match=r"\$RPCGEN_MAX_CONCURRENCY: '0'"):
        resolve({}, {"RPCGEN_MAX_CONCURRENCY": "0"})


def test_once_and_its_store_follow_the_same_precedence(tmp_path: Path) -> None:
    path = tmp_path / "rpcgen.toml"
    path.write_text('[serve]\nonce = false\nonce_store = "redis://file:6379/0"\n')
    assert (resolve({}, {}).once, resolve({}, {}).once_store) == (True, None)  # on, in-process
    assert (resolve({}, {}, path).once, resolve({}, {}, path).once_store) == (
        False,
        "redis://file:6379/0",
    )
    environ = {"RPCGEN_ONCE": "yes", "RPCGEN_ONCE_STORE": "rediss://env:6380/1"}
    assert resolve({}, environ, path).once is True
    assert resolve({}, environ, path).once_store == "rediss://env:6380/1"
    assert resolve({"once": False}, environ, path).once is False
    with pytest.raises(SettingsError, match=r"\$RPCGEN_ONCE_STORE: 'localhost:6379': expected"):
        resolve({}, {"RPCGEN_ONCE_STORE": "localhost:6379"})
