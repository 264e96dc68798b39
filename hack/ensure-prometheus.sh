#!/usr/bin/env bash
# Copyright 2026 The msvc-operator Authors.
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

# ensure-prometheus.sh makes sure a Prometheus server binary is available for
# the integration tests of internal/analysis and prints its path on stdout.
# Lookup order: $PROMETHEUS_BIN, `prometheus` on PATH, /usr/bin/prometheus.
# When none is found it installs Debian's "prometheus" package with apt-get.
# Progress goes to stderr, so `PROMETHEUS_BIN=$(hack/ensure-prometheus.sh)` works.
set -euo pipefail

log() { echo "[prometheus] $*" >&2; }

find_prometheus() {
	if [[ -n "${PROMETHEUS_BIN:-}" && -x "${PROMETHEUS_BIN}" ]]; then
		echo "${PROMETHEUS_BIN}"
		return 0
	fi
	if command -v prometheus >/dev/null 2>&1; then
		command -v prometheus
		return 0
	fi
	if [[ -x /usr/bin/prometheus ]]; then
		echo /usr/bin/prometheus
		return 0
	fi
	return 1
}

if [[ -n "${PROMETHEUS_BIN:-}" && ! -x "${PROMETHEUS_BIN}" ]]; then
	log "PROMETHEUS_BIN=${PROMETHEUS_BIN} is not an executable file; looking elsewhere"
fi

if path="$(find_prometheus)"; then
	echo "${path}"
	exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
	log "prometheus not found and apt-get is unavailable: install Prometheus and set PROMETHEUS_BIN"
	exit 1
fi

SUDO=()
if [[ "$(id -u)" -ne 0 ]]; then
	if command -v sudo >/dev/null 2>&1; then
		SUDO=(sudo)
	else
		log "not root and sudo is unavailable: install the prometheus package or set PROMETHEUS_BIN"
		exit 1
	fi
fi

log "installing Debian package prometheus with apt-get"
log "apt-get update"
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
log "apt-get install prometheus"
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >&2

if path="$(find_prometheus)"; then
	log "installed: $("${path}" --version 2>&1 | head -n 1)"
	echo "${path}"
	exit 0
fi
log "apt-get finished but no prometheus binary was found"
exit 1
