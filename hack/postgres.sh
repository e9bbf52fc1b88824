#!/usr/bin/env bash
# Starts and stops a throwaway local PostgreSQL server for the store's tests.
#
# Usage: hack/postgres.sh up|down|status|url
#   up      initdb (first time), start the server (or reuse a running one), create
#           the database airkube_test, print its URL
#   down    stop the server (the data directory stays for a fast next start)
#   status  exit 0 when the server answers
#   url     print the URL of the test database
# Exit status: 0 done, 1 failed (one line on stderr says why), 3 no PostgreSQL binaries.
#
# The server listens on 127.0.0.1:$AIRKUBE_PG_PORT (25432: below the kernel's ephemeral port
# range, 32768-60999 here, where a busy machine's outgoing connections may hold any port;
# 55432 was taken that way in CI) and on a unix socket in
# its directory, trusts every local connection (superuser "airkube", no password) and
# runs with fsync off: it is for tests only. Its directory is
# $AIRKUBE_CACHE/postgres (default ~/.cache/airkube/postgres), outside the repository.
# Binaries: $AIRKUBE_PG_BIN if set, else initdb/pg_ctl on PATH, else the newest
# /usr/lib/postgresql/*/bin (Debian/Ubuntu: apt-get install postgresql) or
# /usr/pgsql-*/bin (RHEL).
#
# PostgreSQL refuses to run as root. As root the server runs in a user namespace
# that maps root to an ordinary uid (unshare --user; the files stay root's), or, where
# user namespaces are not allowed, as the OS user "postgres" (created if missing),
# with its directory in /var/tmp when that user cannot reach the cache directory.
set -euo pipefail

PORT="${AIRKUBE_PG_PORT:-25432}"
DB="airkube_test"
SUPERUSER="airkube"
# The same cache as hack/versions.sh.
AIRKUBE_CACHE="${AIRKUBE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/airkube}"

die() { echo "postgres: $*" >&2; exit 1; }

find_bin() {
  local dir
  if [[ -n "${AIRKUBE_PG_BIN:-}" ]]; then
    [[ -x "$AIRKUBE_PG_BIN/pg_ctl" ]] || die "AIRKUBE_PG_BIN=$AIRKUBE_PG_BIN has no pg_ctl"
    echo "$AIRKUBE_PG_BIN"; return
  fi
  if command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then
    dirname "$(readlink -f "$(command -v pg_ctl)")"; return
  fi
  # shellcheck disable=SC2012  # version-sorting directory names
  dir="$(ls -d /usr/lib/postgresql/*/bin /usr/pgsql-*/bin 2>/dev/null | sort -V | tail -1)"
  [[ -n "$dir" && -x "$dir/pg_ctl" ]] && { echo "$dir"; return; }
  echo "postgres: no PostgreSQL server binaries found (initdb, pg_ctl); install them" \
    "(Debian/Ubuntu: apt-get install postgresql) or set AIRKUBE_PG_BIN, or point the tests" \
    "at a server with AIRKUBE_TEST_PG_URL" >&2
  return 3
}

# Exit status 3 means "no binaries": the test fixture skips the PostgreSQL tests (outside CI).
BIN="$(find_bin)" || exit $?

# How the server processes run: "self" (not root), "userns" or "postgres" (root).
if [[ "$(id -u)" != 0 ]]; then
  MODE=self
elif [[ "${AIRKUBE_PG_ROOT_MODE:-}" == postgres ]]; then
  MODE=postgres
elif unshare --user --map-user=1000 --map-group=1000 true 2>/dev/null; then
  MODE=userns
else
  MODE=postgres
fi

BASE="$AIRKUBE_CACHE/postgres"
if [[ "$MODE" == postgres ]]; then
  if ! id -u postgres >/dev/null 2>&1; then
    useradd --system --user-group --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin postgres 2>/dev/null ||
      die "running as root and there is no OS user 'postgres' to run the server as (useradd failed)"
  fi
  mkdir -p "$BASE"
  if ! runuser -u postgres -- test -x "$BASE" 2>/dev/null; then
    BASE="/var/tmp/airkube-postgres-$PORT"  # e.g. the cache is under a 0700 /root
  fi
fi
DATA="$BASE/data"
SOCKETS="$BASE/run"
LOG="$BASE/postgres.log"

as_server() {
  case "$MODE" in
    self) "$@" ;;
    userns) unshare --user --map-user=1000 --map-group=1000 "$@" ;;
    postgres) runuser -u postgres -- "$@" ;;
  esac
}

url() { echo "postgresql://$SUPERUSER@127.0.0.1:$PORT/$DB"; }

answers() { "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" -d postgres -U "$SUPERUSER" -t 2; }

running() { [[ -f "$DATA/postmaster.pid" ]] && as_server "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; }

last_error() {
  grep -hE 'FATAL|ERROR|PANIC|could not|failed' "$@" 2>/dev/null | tail -1 | cut -c1-240
}

up() {
  mkdir -p "$BASE" "$SOCKETS"
  if [[ "$MODE" == postgres ]]; then chown postgres: "$BASE" "$SOCKETS"; fi
  if [[ ! -f "$DATA/PG_VERSION" ]]; then
    rm -rf "$DATA"
    if [[ "$MODE" == postgres ]]; then install -d -o postgres -g postgres -m 0700 "$DATA"; fi
    as_server "$BIN/initdb" -D "$DATA" -U "$SUPERUSER" --auth=trust -E UTF8 --no-locale \
      --no-sync >"$BASE/initdb.log" 2>&1 ||
      die "initdb failed: $(last_error "$BASE/initdb.log") (full log: $BASE/initdb.log)"
  fi
  if ! running; then
    : >"$LOG"
    if [[ "$MODE" == postgres ]]; then chown postgres: "$LOG"; fi
    # A throwaway server: durability off for speed.
    local opts="-c listen_addresses=127.0.0.1 -p $PORT -c unix_socket_directories='$SOCKETS'"
    opts+=" -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
    as_server "$BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 -o "$opts" start >/dev/null 2>&1 ||
      die "the server did not start on 127.0.0.1:$PORT: $(last_error "$LOG") (full log: $LOG)"
  fi
  answers || die "a server runs from $DATA but does not answer on 127.0.0.1:$PORT (log: $LOG)"
  local psql=("$BIN/psql" -h 127.0.0.1 -p "$PORT" -U "$SUPERUSER" -X -q)
  if [[ -z "$("${psql[@]}" -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB'")" ]]; then
    # Another `up` may create it at the same moment: then it is there to connect to.
    "$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U "$SUPERUSER" "$DB" 2>"$BASE/createdb.log" ||
      "${psql[@]}" -d "$DB" -c '' >/dev/null 2>&1 ||
      die "cannot create database $DB: $(head -1 "$BASE/createdb.log")"
  fi
  echo "postgres: up (PostgreSQL $("$BIN/postgres" --version | awk '{print $3}'), $MODE) at $(url)"
}

down() {
  if running; then
    as_server "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null 2>&1 ||
      die "pg_ctl stop failed (log: $LOG)"
    echo "postgres: stopped (data kept in $DATA)"
  else
    echo "postgres: not running"
  fi
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) answers && echo "postgres: up at $(url)" || die "not running: hack/postgres.sh up" ;;
  url) url ;;
  *) die "usage: hack/postgres.sh up|down|status|url" ;;
esac
