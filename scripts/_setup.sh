# Shared by scripts/test and scripts/demo (source it; it defines functions and ROOT, runs nothing).
# Installs what is missing on a fresh Debian 12 machine, as root:
#   Debian's rabbitmq-server (tests and the demo start throwaway nodes from its scripts; the
#   package's own system broker is not used and is left alone), Debian's redis-server (the same
#   way: tests and benchmarks start throwaway servers from /usr/bin/redis-server), .venv with rpcgen and its dev
#   and docs extras, .venv-nameko with Nameko 2.14.1 for the interop tests, and .venv-nameko3 with
#   Nameko 3.0.0rc11 (a pre-release: its interop tests skip if it cannot be installed), and
#   .venv-nameko-otel with Nameko 3.0.0rc11 and opentelemetry-instrumentation-nameko (tests/otel).

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
NAMEKO_VERSION="2.14.1"
NAMEKO3_VERSION="3.0.0rc11"
_apt_updated=""

log() {
    if [[ -t 2 ]]; then
        printf '\033[1m==> %s\033[0m\n' "$*" >&2
    else
        printf '==> %s\n' "$*" >&2
    fi
}

die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}

apt_install() {
    command -v apt-get >/dev/null || die "apt-get not found: install $* by hand"
    [[ $(id -u) -eq 0 ]] || die "installing $* needs root (or install it by hand)"
    if [[ -z $_apt_updated ]]; then
        DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
        _apt_updated=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >/dev/null
}

ensure_rabbitmq() {
    if [[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ]]; then
        return
    fi
    log "installing Debian's rabbitmq-server"
    apt_install rabbitmq-server
    [[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ]] ||
        die "rabbitmq-server installed, but /usr/lib/rabbitmq/bin/rabbitmq-server is missing"
}

ensure_redis() {
    if [[ -x /usr/bin/redis-server ]]; then
        return
    fi
    log "installing Debian's redis-server"
    apt_install redis-server
    [[ -x /usr/bin/redis-server ]] || die "redis-server installed, but /usr/bin/redis-server is missing"
}

ensure_python() {
    "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' ||
        die "$PYTHON is older than 3.10 (set PYTHON=...)"
    if ! "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null; then
        log "installing python3-venv"
        apt_install python3-venv
    fi
}

# .venv: rpcgen in strict editable mode (files linked, so mypy resolves the package), reinstalled on
# every run: cheap, and it picks up modules added since the last run.
ensure_venv() {
    ensure_python
    if [[ ! -x $ROOT/.venv/bin/python ]]; then
        log "creating .venv"
        "$PYTHON" -m venv "$ROOT/.venv"
    fi
    log "installing rpcgen[dev,docs] into .venv"
    (cd "$ROOT" && .venv/bin/python -m pip install -q -e '.[dev,docs]' --config-settings editable_mode=strict)
}

# .venv-nameko*: Nameko in environments of its own; the tests run it as subprocesses, never import it.
# ensure_nameko_venv DIR VERSION
ensure_nameko_venv() {
    ensure_python
    local dir="$ROOT/$1" version=$2
    if [[ -x $dir/bin/python ]] && "$dir/bin/python" -c "import importlib.metadata as m, sys
sys.exit(m.version('nameko') != '$version')" 2>/dev/null; then
        return
    fi
    log "creating $1 with nameko==$version"
    rm -rf "$dir"
    if ! { "$PYTHON" -m venv "$dir" && "$dir/bin/python" -m pip install -q "nameko==$version"; }; then
        rm -rf "$dir" # no half-made environment for the tests to trip on
        return 1
    fi
}

# .venv-nameko-otel: a Nameko 3 service traced by opentelemetry-instrumentation-nameko (0.5.2
# needs Nameko >= 3.0.0rc9), for tests/otel/test_nameko_trace.py. Pinned: the newest versions,
# checked to work together (the instrumentation's last release is 0.5.2).
NAMEKO_OTEL_PACKAGES=(
    "nameko==$NAMEKO3_VERSION"
    "opentelemetry-instrumentation-nameko==0.5.2"
    "opentelemetry-api==1.45.2"
    "opentelemetry-sdk==1.45.2"
    "opentelemetry-instrumentation==0.66b2"
    "opentelemetry-instrumentation-wsgi==0.66b2"
)
ensure_nameko_otel_venv() {
    ensure_python
    local dir="$ROOT/.venv-nameko-otel"
    if [[ -x $dir/bin/python ]] && "$dir/bin/python" -c "import importlib.metadata as m, sys
sys.exit(m.version('opentelemetry-instrumentation-nameko') != '0.5.2'
         or m.version('opentelemetry-sdk') != '1.45.2' or m.version('nameko') != '$NAMEKO3_VERSION')" \
        2>/dev/null; then
        return
    fi
    log "creating .venv-nameko-otel with ${NAMEKO_OTEL_PACKAGES[*]}"
    rm -rf "$dir"
    if ! { "$PYTHON" -m venv "$dir" && "$dir/bin/python" -m pip install -q "${NAMEKO_OTEL_PACKAGES[@]}"; }; then
        rm -rf "$dir"
        return 1
    fi
}

# .tools/node_modules/@asyncapi/parser: the official AsyncAPI parser, which tests/contract runs
# under node to validate `rpcgen export --format asyncapi`. Needs node and npm (Debian's packages).
ASYNCAPI_PARSER_VERSION="3.6.6"
ensure_asyncapi_parser() {
    local pkg="$ROOT/.tools/node_modules/@asyncapi/parser/package.json"
    if [[ -f $pkg ]] && grep -q "\"version\": \"$ASYNCAPI_PARSER_VERSION\"" "$pkg"; then
        return
    fi
    if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
        log "installing node and npm"
        apt_install nodejs npm
    fi
    log "installing @asyncapi/parser@$ASYNCAPI_PARSER_VERSION into .tools"
    npm install --prefix "$ROOT/.tools" --no-audit --no-fund --loglevel=error \
        "@asyncapi/parser@$ASYNCAPI_PARSER_VERSION" >/dev/null
}
