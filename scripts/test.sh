#!/usr/bin/env bash
# The project's test command: installs what the tests need (idempotently), runs every test in
# the workspace (and the docker provider's once more on Podman), then fuzzes each target in
# fuzz/ for FUZZ_SECONDS (default 60; 0 skips it). README.md and .ci/run both call this.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v python3 >/dev/null 2>&1 || need_apt+=(python3)
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
# faas-cli's `template pull` tests clone repositories they make with a real git.
command -v git >/dev/null 2>&1 || need_apt+=(git)
# The queue's NATS tests start a real nats-server; install it once here rather than from
# tests running in parallel (apt's lock would make them wait on each other).
{ command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ]; } || need_apt+=(nats-server)
# The MQTT connector's tests start a real mosquitto (scripts/mosquitto.sh).
{ command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ]; } || need_apt+=(mosquitto)
# The process provider's sandbox (and faasd's attack tests) run replicas under bubblewrap.
command -v bwrap >/dev/null 2>&1 || need_apt+=(bubblewrap)
# The portal's test drives a real headless Chromium.
{ command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; } || need_apt+=(chromium)
# One line per package installed, no service enabled or started.
bash scripts/apt-install.sh "${need_apt[@]}"
# faas-cli's template tests build functions with each language's own toolchain (the
# compilers and interpreters alone: their recommended extras are not needed).
toolchains=()
command -v go >/dev/null 2>&1 || toolchains+=(golang-go)
command -v javac >/dev/null 2>&1 || toolchains+=(default-jdk-headless)
command -v php >/dev/null 2>&1 || toolchains+=(php-cli)
command -v ruby >/dev/null 2>&1 || toolchains+=(ruby)
command -v node >/dev/null 2>&1 || toolchains+=(nodejs)
# The node templates' builds run npm install (Debian ships it apart from nodejs).
command -v npm >/dev/null 2>&1 || toolchains+=(npm)
bash scripts/apt-install.sh --no-recommends "${toolchains[@]}"
# python3-flask uses the Flask of the python3 on PATH: Debian's python3-flask when that
# python3 is Debian's, else Flask from PyPI for that python3.
if ! python3 -c 'import flask' >/dev/null 2>&1; then
  if [ "$(command -v python3)" = /usr/bin/python3 ]; then
    bash scripts/apt-install.sh python3-flask
  else
    python3 -m pip install --quiet --disable-pip-version-check flask >/dev/null
    echo "installed flask $(python3 -c 'import importlib.metadata as m; print(m.version("flask"))') (PyPI, for $(command -v python3))"
  fi
fi

# Sandboxed replicas see only the host's system directories: their python3 is Debian's
# /usr/bin/python3 whatever python3 is on PATH here, so it needs Flask too.
if [ -x /usr/bin/python3 ] && ! /usr/bin/python3 -c 'import flask' >/dev/null 2>&1; then
  bash scripts/apt-install.sh python3-flask
fi

# faasd's metrics tests scrape it with a real Prometheus (installed once here, not by each
# test in parallel).
bash scripts/prometheus.sh ensure

# The docker provider's tests (faas-provider-docker, faasd --features docker) share one
# dockerd of the project's own with its local base images (scripts/docker.sh installs Debian's
# docker.io without starting its services); it is stopped when the tests end, unless it was
# running already (another run, or a developer's, still uses it).
if bash scripts/docker.sh env >/dev/null 2>&1; then
  bash scripts/docker.sh start >/dev/null
else
  bash scripts/docker.sh start >/dev/null
  trap 'bash scripts/docker.sh stop' EXIT
fi

# The whole workspace, with the NATS backend of the queue and the NATS and MQTT connectors on
# (their tests start a real nats-server and mosquitto through scripts/nats-server.sh and
# scripts/mosquitto.sh, which install them from Debian's packages).
status=0
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --features faas-queue/nats,faas-connectors/nats,faas-connectors/mqtt,faasd/nats,faasd/mqtt,faasd/kubernetes,faasd/docker --no-fail-fast "$@" || status=$?
else
  cargo test --workspace --features faas-queue/nats,faas-connectors/nats,faas-connectors/mqtt,faasd/nats,faasd/mqtt,faasd/kubernetes,faasd/docker --no-fail-fast "$@" || status=$?
fi

# The docker provider's own tests once more on Podman's Docker-compatible API
# (scripts/podman.sh: a rootful `podman system service` on a socket of its own, about a minute
# in all), but the one that pulls from a plain-HTTP registry on a random port: Podman's Docker
# API pulls over HTTP only from registries its registries.conf lists by port (podman#16486).
podman_started=0
bash scripts/podman.sh env >/dev/null 2>&1 || podman_started=1
bash scripts/podman.sh start >/dev/null
if cargo nextest --version >/dev/null 2>&1; then
  RUSTFAAS_ENGINE=podman cargo nextest run -p faas-provider-docker --no-fail-fast \
    -E 'not test(=a_missing_image_is_pulled_from_its_registry)' || status=$?
else
  RUSTFAAS_ENGINE=podman cargo test -p faas-provider-docker --no-fail-fast -- \
    --skip a_missing_image_is_pulled_from_its_registry || status=$?
fi
[ $podman_started -eq 0 ] || bash scripts/podman.sh stop

# Each fuzz target for FUZZ_SECONDS from its seeds (scripts/fuzz.sh; fuzz/README.md).
if [ "${FUZZ_SECONDS:-60}" != 0 ]; then
  bash scripts/fuzz.sh "${FUZZ_SECONDS:-60}"
fi
exit $status
