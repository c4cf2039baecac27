#!/usr/bin/env bash
# Entrypoint of the PostgreSQL stand-in (images/standins/postgres), written for this project from the
# documented contract of the official postgres image's entrypoint (images/README.md lists what it keeps
# and what it leaves out):
#
#   docker-entrypoint.sh postgres [server options]   (the default CMD)
#
# On the first start (no $PGDATA/PG_VERSION): initdb as POSTGRES_USER (default postgres) with
# POSTGRES_PASSWORD, remote connections from any address with POSTGRES_HOST_AUTH_METHOD (default
# scram-sha-256), then a socket-only temporary server creates POSTGRES_DB (default POSTGRES_USER) and runs
# /docker-entrypoint-initdb.d/*.sh|*.sql|*.sql.gz, and stops. Every start then execs the server (PID 1:
# SIGINT is a fast shutdown, the image's STOPSIGNAL). POSTGRES_USER/PASSWORD/DB/INITDB_ARGS may come from
# files (<VAR>_FILE). Arguments starting with "-" are options of postgres; any other command runs as is.
set -Eeuo pipefail

prog=docker-entrypoint.sh
say() { printf '%s: %s\n' "$prog" "$*"; }
die() { printf '%s: error: %s\n' "$prog" "$*" >&2; exit 1; }

# VAR from its value or from the file VAR_FILE names (one of the two), default $2.
from_env_or_file() {
  local name=$1 file_var="${1}_FILE" value=${2:-}
  if [ -n "${!name:-}" ] && [ -n "${!file_var:-}" ]; then die "$name and $file_var are both set: give one"; fi
  if [ -n "${!name:-}" ]; then value=${!name}
  elif [ -n "${!file_var:-}" ]; then value=$(<"${!file_var}"); fi
  export "$name=$value"
  unset "$file_var"
}

# postgres --help, --version, -C … print and exit: no initialisation for those.
wants_no_server() {
  local a
  for a in "$@"; do
    case $a in -'?'|--help|--describe-config|-V|--version|-C|-C*) return 0 ;; esac
  done
  return 1
}

# Runs the init scripts in name order (as the postgres user, on the temporary server's socket).
run_init_scripts() {
  local f
  for f in /docker-entrypoint-initdb.d/*; do
    [ -e "$f" ] || continue
    case $f in
      *.sh)
        if [ -x "$f" ]; then say "running $f"; "$f"
        else say "sourcing $f"; # shellcheck disable=SC1090
          . "$f"; fi ;;
      *.sql) say "running $f"; "${psql[@]}" --dbname "$POSTGRES_DB" -f "$f" ;;
      *.sql.gz) say "running $f"; gzip -dc "$f" | "${psql[@]}" --dbname "$POSTGRES_DB" ;;
      *) say "ignoring $f" ;;
    esac
  done
}

initialise() {
  from_env_or_file POSTGRES_PASSWORD
  from_env_or_file POSTGRES_USER postgres
  from_env_or_file POSTGRES_DB "$POSTGRES_USER"
  from_env_or_file POSTGRES_INITDB_ARGS
  local auth=${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}
  if [ -z "$POSTGRES_PASSWORD" ] && [ "$auth" != trust ]; then
    die "the database is not initialised and POSTGRES_PASSWORD is empty: give POSTGRES_PASSWORD (or POSTGRES_PASSWORD_FILE); POSTGRES_HOST_AUTH_METHOD=trust allows every connection without one (never do that outside a test)"
  fi
  [ "${#POSTGRES_PASSWORD}" -le 100 ] || say "warning: POSTGRES_PASSWORD is longer than 100 characters"

  say "initialising $PGDATA (user $POSTGRES_USER, database $POSTGRES_DB, remote auth $auth)"
  local initdb_args=(--username="$POSTGRES_USER")
  [ -z "${POSTGRES_INITDB_WALDIR:-}" ] || initdb_args+=(--waldir="$POSTGRES_INITDB_WALDIR")
  # md5 remote auth needs md5-hashed passwords, from the first one on.
  [ "$auth" != md5 ] || initdb_args+=(-c password_encryption=md5)
  # POSTGRES_INITDB_ARGS is split on spaces, as documented for the official image. The password goes
  # through a pipe, never on a command line nor into a file.
  if [ -n "$POSTGRES_PASSWORD" ]; then
    # shellcheck disable=SC2086
    initdb "${initdb_args[@]}" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") $POSTGRES_INITDB_ARGS
  else
    # shellcheck disable=SC2086
    initdb "${initdb_args[@]}" $POSTGRES_INITDB_ARGS
  fi

  # Sockets where the official image has its one (/var/run/postgresql, its Debian build's default) and where
  # this build's clients look by default (/tmp): both are emptyDirs in the platform's pod.
  printf "\n# docker-entrypoint.sh: the official image's socket directory, and this build's client default\nunix_socket_directories = '/var/run/postgresql,/tmp'\n" >>"$PGDATA/postgresql.conf"

  # initdb's own rules trust the local socket and loopback inside the container; every other address
  # authenticates (TCP from other pods: the platform's only way in).
  {
    printf '\n'
    if [ "$auth" = trust ]; then printf '# POSTGRES_HOST_AUTH_METHOD=trust: every connection is trusted\n'; fi
    printf 'host all all all %s\n' "$auth"
  } >>"$PGDATA/pg_hba.conf"

  # A temporary server on the socket only: nothing outside the container sees a half-made database.
  pg_ctl -D "$PGDATA" -w -o "-c listen_addresses='' -c unix_socket_directories=/var/run/postgresql" start
  export PGPASSWORD=$POSTGRES_PASSWORD
  psql=(psql -v ON_ERROR_STOP=1 --no-psqlrc --no-password --host /var/run/postgresql --username "$POSTGRES_USER")
  if [ "$POSTGRES_DB" != postgres ]; then
    local exists
    exists=$("${psql[@]}" --dbname postgres -At --set db="$POSTGRES_DB" <<<"SELECT 1 FROM pg_database WHERE datname = :'db';")
    if [ -z "$exists" ]; then
      "${psql[@]}" --dbname postgres --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
      say "created database $POSTGRES_DB"
    fi
  fi
  run_init_scripts
  unset PGPASSWORD
  pg_ctl -D "$PGDATA" -m fast -w stop
  say "initialisation complete; starting the server"
}

if [ "${1:-}" != "" ] && [ "${1:0:1}" = - ]; then set -- postgres "$@"; fi

if [ "${1:-}" = postgres ] && ! wants_no_server "$@"; then
  : "${PGDATA:?PGDATA is not set}"
  if [ "$(id -u)" = 0 ]; then
    # As root (not how the platform runs it): make the directories postgres's, then run as postgres.
    mkdir -p "$PGDATA" /var/run/postgresql
    chown postgres:postgres "$PGDATA" /var/run/postgresql
    chmod 700 "$PGDATA"
    chmod 3777 /var/run/postgresql
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$BASH_SOURCE" "$@"
  fi
  mkdir -p "$PGDATA" || die "cannot create PGDATA $PGDATA as uid $(id -u) (the volume must be writable by the pod's user or fsGroup)"
  chmod 700 "$PGDATA" 2>/dev/null || :
  if [ ! -s "$PGDATA/PG_VERSION" ]; then
    initialise
  else
    say "PGDATA $PGDATA holds a PostgreSQL $(<"$PGDATA/PG_VERSION") database: no initialisation"
  fi
fi

exec "$@"
