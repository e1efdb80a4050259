#!/usr/bin/env bash
# Installs the Debian packages whose binaries the tests and benches run:
# real brokers (started by test/helpers/brokers.ts on free 127.0.0.1
# ports), a browser and openssl.
#
# Idempotent: when every binary is present it only checks and exits 0
# (no apt-get update, no network). Otherwise it runs `apt-get update`
# once and installs the missing packages non-interactively, as root or
# through passwordless sudo; without either it prints the command to run
# and exits 1.
#
# Package maintainer scripts of rabbitmq-server and mosquitto start a
# system service (RabbitMQ on 0.0.0.0:5672, mosquitto on 1883). The tests
# never use those: a policy-rc.d denies service starts during the install,
# and any instance that started anyway is stopped and disabled afterwards,
# with systemctl, service or the init.d script, whichever exists.
#
# Usage: scripts/ensure-debian-deps.sh [--check]
#   --check   report what is missing, install nothing (exit 1 if missing)
set -euo pipefail

CHECK_ONLY=0
[[ "${1:-}" == "--check" ]] && CHECK_ONLY=1

# binary -> Debian package
BINARIES=(nats-server mosquitto mosquitto_pub mosquitto_sub rabbitmq-server rabbitmqctl epmd chromium openssl initdb)
declare -A PACKAGE_OF=(
  [nats-server]=nats-server
  [mosquitto]=mosquitto
  [mosquitto_pub]=mosquitto-clients
  [mosquitto_sub]=mosquitto-clients
  [rabbitmq-server]=rabbitmq-server
  [rabbitmqctl]=rabbitmq-server
  [epmd]=erlang-base
  [chromium]=chromium
  [openssl]=openssl
  [initdb]=postgresql
)
# Services those packages may start on install.
SERVICES=(rabbitmq-server mosquitto nats-server postgresql)

log() { printf '[ensure-debian-deps] %s\n' "$*" >&2; }

have() {
  # /usr/sbin and /sbin are not on a non-root PATH, but Debian installs
  # nats-server, mosquitto and rabbitmq-server there.
  command -v "$1" >/dev/null 2>&1 && return 0
  local d
  for d in /usr/local/sbin /usr/sbin /sbin; do
    [[ -x "$d/$1" ]] && return 0
  done
  # Debian keeps PostgreSQL's server binaries (initdb, pg_ctl) per version,
  # off PATH: test/helpers/postgres.ts runs them from there.
  for d in /usr/lib/postgresql/*/bin; do
    [[ -x "$d/$1" ]] && return 0
  done
  return 1
}

missing_pkgs=()
missing_bins=()
for bin in "${BINARIES[@]}"; do
  if ! have "$bin"; then
    missing_bins+=("$bin")
    pkg="${PACKAGE_OF[$bin]}"
    [[ " ${missing_pkgs[*]-} " == *" $pkg "* ]] || missing_pkgs+=("$pkg")
  fi
done

if [[ ${#missing_pkgs[@]} -eq 0 ]]; then
  log "all present: ${BINARIES[*]}"
  exit 0
fi

log "missing binaries: ${missing_bins[*]}"
log "packages to install: ${missing_pkgs[*]}"
if [[ $CHECK_ONLY -eq 1 ]]; then
  exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
  log "apt-get not found: this script only knows Debian/Ubuntu. Install these yourself: ${missing_pkgs[*]}"
  exit 1
fi

SUDO=()
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n)
  else
    log "not root and no passwordless sudo. Run as root:"
    log "  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y ${missing_pkgs[*]}"
    exit 1
  fi
fi

# Deny service starts from maintainer scripts while we install
# (invoke-rc.d and deb-systemd-invoke honour /usr/sbin/policy-rc.d;
# exit 101 = "action forbidden by policy"). Only if no policy exists yet,
# and removed again on exit.
POLICY=/usr/sbin/policy-rc.d
created_policy=0
cleanup_policy() {
  if [[ $created_policy -eq 1 ]]; then
    "${SUDO[@]}" rm -f "$POLICY" || true
  fi
}
trap cleanup_policy EXIT
if [[ ! -e $POLICY ]]; then
  printf '#!/bin/sh\n# temporary, from meshgate scripts/ensure-debian-deps.sh\nexit 101\n' | "${SUDO[@]}" tee "$POLICY" >/dev/null
  "${SUDO[@]}" chmod 755 "$POLICY"
  created_policy=1
fi

export DEBIAN_FRONTEND=noninteractive
log "apt-get update"
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
log "apt-get install -y ${missing_pkgs[*]}"
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
  -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
  "${missing_pkgs[@]}"

cleanup_policy
created_policy=0

# Stop and disable any system instance the install started anyway. Stop
# only what listens on its default port: asking an init script to stop a
# RabbitMQ that is not running still runs `rabbitmqctl status`, which
# leaves an epmd daemon behind.
declare -A DEFAULT_PORT_OF=([rabbitmq-server]=5672 [mosquitto]=1883 [nats-server]=4222 [postgresql]=5432)
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
has_systemd=0
if command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
  has_systemd=1
fi
for svc in "${SERVICES[@]}"; do
  if [[ $has_systemd -eq 1 ]]; then
    if systemctl cat "$svc.service" >/dev/null 2>&1; then
      "${SUDO[@]}" systemctl disable --now "$svc" >/dev/null 2>&1 || true
    fi
    continue
  fi
  [[ -x /etc/init.d/$svc ]] || continue
  if listening "${DEFAULT_PORT_OF[$svc]}"; then
    log "stopping system $svc started by its package"
    if command -v service >/dev/null 2>&1; then
      "${SUDO[@]}" service "$svc" stop >/dev/null 2>&1 || true
    else
      "${SUDO[@]}" "/etc/init.d/$svc" stop >/dev/null 2>&1 || true
    fi
  fi
  if command -v update-rc.d >/dev/null 2>&1; then
    "${SUDO[@]}" update-rc.d "$svc" disable >/dev/null 2>&1 || true
  fi
done

# Last resort: a RabbitMQ still on 5672 (runs as user rabbitmq; the
# Debian rabbitmqctl wrapper switches to that user by itself).
if listening 5672; then
  log "a RabbitMQ still listens on 5672: rabbitmqctl stop"
  "${SUDO[@]}" timeout 60 rabbitmqctl stop >/dev/null 2>&1 || true
  if listening 5672 && command -v pgrep >/dev/null 2>&1 && id rabbitmq >/dev/null 2>&1; then
    for p in $(pgrep -u rabbitmq -f 'beam.*rabbit' 2>/dev/null); do "${SUDO[@]}" kill -TERM "$p" 2>/dev/null || true; done
  fi
fi

still_missing=()
for bin in "${BINARIES[@]}"; do have "$bin" || still_missing+=("$bin"); done
if [[ ${#still_missing[@]} -gt 0 ]]; then
  log "still missing after install: ${still_missing[*]}"
  exit 1
fi
log "installed: ${missing_pkgs[*]}"
