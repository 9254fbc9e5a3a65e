#!/usr/bin/env bash
# Create the benchmark environments at the repository root:
#   .venv-bench   rpcgen (strict editable install), aio-pika, matplotlib and py-spy: the driver, rpcgen,
#                 pika-tutorial and aio-pika systems run here. The test venv stays free of aio-pika.
#   .venv-nameko  Nameko 2.14.1 for the Nameko baseline (created only when missing; the test setup
#                 creates the same environment).
# Usage: bash bench/setup.sh [--no-nameko]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
python="${PYTHON:-python3}"

# The benchmark boots its own RabbitMQ node from Debian's package (rpcgen.runtime.rabbitnode).
if [[ ! -x /usr/lib/rabbitmq/bin/rabbitmq-server ]]; then
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
        apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q rabbitmq-server
        # The package starts a system broker; the benchmark does not need it.
        service rabbitmq-server stop >/dev/null 2>&1 || true
    else
        echo "note: install Debian's rabbitmq-server package, or run with --amqp-uri" >&2
    fi
fi

if [[ ! -x .venv-bench/bin/python ]]; then
    "$python" -m venv .venv-bench
fi
.venv-bench/bin/pip install -q --upgrade pip
# strict: link the files so that mypy and new modules resolve exactly as in development.
.venv-bench/bin/pip install -q -e . --config-settings editable_mode=strict
.venv-bench/bin/pip install -q 'aio-pika>=9,<11' 'matplotlib>=3.7' 'py-spy>=0.3'

if [[ "${1:-}" != "--no-nameko" && ! -x .venv-nameko/bin/nameko ]]; then
    "$python" -m venv .venv-nameko
    .venv-nameko/bin/pip install -q 'nameko==2.14.1'
fi
echo "bench environments ready: .venv-bench$([[ -x .venv-nameko/bin/nameko ]] && echo ', .venv-nameko')"
