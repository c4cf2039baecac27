#!/usr/bin/env bash
# migrate-database.sh — lossless copy of the MLflow backend store from the in-cluster PostgreSQL to RDS.
#
# Contract:
#   SOURCE_DATABASE_URL     postgresql://user:password@host:port/db[?sslmode=...]   (required)
#   TARGET_DATABASE_URL     same form, the (empty) RDS database                     (required)
#   ALLOW_NON_EMPTY_TARGET  "true" to drop and replace what the target already holds (pg_restore --clean --if-exists)
#   ALLOW_ACTIVE_SOURCE     "true" to copy although other sessions are connected to the source (default: refuse, exit 7)
#   PG_BIN                  optional directory of the PostgreSQL client tools (default: found on PATH)
#   WORK_DIR                optional directory for the dump file (default: a temporary directory under TMPDIR)
#   PGCONNECT_TIMEOUT       libpq connect timeout in seconds (default 10)
#
# Steps: both sides reachable → refuse a target that already holds MLflow rows → pg_dump (custom format, no owners,
# no ACLs) → pg_restore in one transaction → exact count(*) of every table in every non-system schema on both sides,
# sequence positions and alembic_version compared → ANALYZE on the target.
#
# Exit codes: 0 copied and verified · 2 bad input (missing/invalid URL, missing tool, incompatible pg_dump, empty
# source, source = target) · 3 target already holds data, refused · 4 verification found a difference ·
# 5 a database is unreachable · 6 pg_dump or pg_restore failed (the target is left as it was: single transaction) ·
# 7 other sessions are connected to the source (the writers are not frozen; ALLOW_ACTIVE_SOURCE=true overrides).
#
# Writes to the source are NOT blocked by this script: stop every writer first (tracking server at 0 replicas);
# a write that lands during the copy shows up as a count difference (exit 4). Passwords never reach the logs or the
# command lines of the tools: they are taken out of the URLs and handed over in PGPASSWORD.
set -euo pipefail

PROG=migrate-database
log() { printf '%s %s: %s\n' "$(date -u +%H:%M:%S)" "$PROG" "$*"; }
die() { local code=$1; shift; printf '%s: error: %s\n' "$PROG" "$*" >&2; exit "$code"; }

# Hide credentials in anything that might be printed: userinfo passwords and password= parameters.
redact() { sed -E 's#([a-zA-Z][a-zA-Z0-9+.-]*://[^:/@?[:space:]]*):[^@[:space:]]*@#\1:***@#g; s#(password=)[^&[:space:]]*#\1***#g'; }

tool() { if [[ -n "${PG_BIN:-}" ]]; then printf '%s/%s' "$PG_BIN" "$1"; else printf '%s' "$1"; fi; }
for t in psql pg_isready pg_dump pg_restore; do
  command -v "$(tool "$t")" >/dev/null 2>&1 || die 2 "PostgreSQL client tool '$t' not found (PG_BIN='${PG_BIN:-}', PATH=$PATH)"
done
PSQL=$(tool psql); PG_ISREADY=$(tool pg_isready); PG_DUMP=$(tool pg_dump); PG_RESTORE=$(tool pg_restore)
export PGCONNECT_TIMEOUT="${PGCONNECT_TIMEOUT:-10}"

# ---- URLs: split the password off so that it is passed only through the environment --------------------------------
percent_decode() { local s=${1//\\/\\\\}; printf '%b' "${s//'%'/\\x}"; }

# parse_url SIDE VAR_NAME → sets <SIDE>_URL (no password), <SIDE>_PW (decoded, may be empty), <SIDE>_SHOW (redacted)
parse_url() {
  local side=$1 name=$2 url=${!2:-} rest userinfo user pw=""
  [[ -n "$url" ]] || die 2 "$name is not set (expected postgresql://user:password@host:5432/db[?sslmode=require])"
  # postgresql+psycopg2:// (SQLAlchemy form, as MLflow takes it) is accepted: libpq gets plain postgresql://.
  [[ "$url" =~ ^postgres(ql)?(\+[A-Za-z0-9_]+)?:// ]] ||
    die 2 "$name must start with postgresql:// (got '$(printf '%s' "$url" | redact | cut -c1-40)…')"
  rest=${url#*://}
  if [[ "$rest" == *@* && "${rest%%@*}" != */* ]]; then
    userinfo=${rest%%@*}; rest=${rest#*@}
    user=${userinfo%%:*}
    [[ "$userinfo" == *:* ]] && pw=$(percent_decode "${userinfo#*:}")
    url="postgresql://${user}@${rest}"
  else
    url="postgresql://${rest}"
  fi
  printf -v "${side}_URL" '%s' "$url"
  printf -v "${side}_PW" '%s' "$pw"
  printf -v "${side}_SHOW" '%s' "$(printf '%s' "${!name}" | redact)"
}
parse_url SOURCE SOURCE_DATABASE_URL
parse_url TARGET TARGET_DATABASE_URL
NON_EMPTY_OK=false
case "${ALLOW_NON_EMPTY_TARGET:-false}" in
  true) NON_EMPTY_OK=true ;; false|"") ;;
  *) die 2 "ALLOW_NON_EMPTY_TARGET must be 'true' or 'false' (got '${ALLOW_NON_EMPTY_TARGET}')" ;;
esac

# on SIDE CMD ARGS… : run a tool with that side's password in its environment (an outer PGPASSWORD is kept if the URL
# carries none).
on() {
  local pwvar="${1}_PW"; shift
  if [[ -n "${!pwvar}" ]]; then PGPASSWORD="${!pwvar}" "$@"; else "$@"; fi
}
# sql SIDE QUERY → unaligned, tuples only, '|' separated; psql's error is redacted.
sql() {
  local side=$1 q=$2 url="${1}_URL"
  on "$side" "$PSQL" -X -q -At -v ON_ERROR_STOP=1 -d "${!url}" -c "$q" 2> >(redact >&2)
}
name_of() { if [[ $1 == SOURCE ]]; then echo source; else echo target; fi; }

# ---- 1. both sides reachable --------------------------------------------------------------------------------------
check_reachable() {
  local side=$1 url="${1}_URL" show="${1}_SHOW" out
  if ! out=$(on "$side" "$PG_ISREADY" -d "${!url}" -t "$PGCONNECT_TIMEOUT" 2>&1); then
    die 5 "$(name_of "$side") database unreachable at ${!show}: $(printf '%s' "$out" | redact | tr '\n' ' ')"
  fi
  if ! out=$(on "$side" "$PSQL" -X -q -At -v ON_ERROR_STOP=1 -d "${!url}" -c 'select 1' 2>&1); then
    die 5 "$(name_of "$side") database refused the connection at ${!show}: $(printf '%s' "$out" | redact | grep -v '^$' | head -n1)"
  fi
}
START=$SECONDS
log "source ${SOURCE_SHOW}"
log "target ${TARGET_SHOW}"
check_reachable SOURCE
check_reachable TARGET

SRC_VER=$(sql SOURCE 'show server_version_num'); TGT_VER=$(sql TARGET 'show server_version_num')
DUMP_MAJOR=$("$PG_DUMP" --version | sed -E 's/.* ([0-9]+)(\.[0-9]+)*.*/\1/')
log "server versions: source ${SRC_VER}, target ${TGT_VER}; pg_dump major ${DUMP_MAJOR}"
(( DUMP_MAJOR >= SRC_VER / 10000 )) ||
  die 2 "pg_dump ${DUMP_MAJOR} cannot dump a PostgreSQL $((SRC_VER / 10000)) source: use client tools >= $((SRC_VER / 10000)) (postgres:16 image) or set PG_BIN"
(( TGT_VER / 10000 >= SRC_VER / 10000 )) ||
  log "warning: target major $((TGT_VER / 10000)) is older than source major $((SRC_VER / 10000)); the restore may fail"

IDENT="select current_database() || '@' || coalesce(host(inet_server_addr()), 'socket') || ':' || current_setting('port')"
SYSID="select system_identifier from pg_control_system()"
if [[ "$(sql SOURCE "$IDENT")" == "$(sql TARGET "$IDENT")" ]] &&
   [[ "$(sql SOURCE "$SYSID" 2>/dev/null || echo s)" == "$(sql TARGET "$SYSID" 2>/dev/null || echo t)" ]]; then
  die 2 "SOURCE_DATABASE_URL and TARGET_DATABASE_URL point to the same database ($(sql TARGET "$IDENT"))"
fi

# ---- 2. refuse a target that already holds data --------------------------------------------------------------------
USER_TABLES="from pg_class c join pg_namespace n on n.oid = c.relnamespace
  where c.relkind in ('r', 'p') and n.nspname not in ('pg_catalog', 'information_schema')
    and n.nspname not like 'pg\_toast%' and n.nspname not like 'pg\_temp%'"
# Exact per-table count(*) in one round trip: query_to_xml runs the generated count for each table.
COUNTS="select n.nspname || '.' || c.relname,
  (xpath('/row/n/text()', query_to_xml(format('select count(*) as n from %I.%I', n.nspname, c.relname), false, true, '')))[1]::text
  $USER_TABLES order by 1"
MLFLOW_ROWS="select string_agg(n.nspname || '.' || c.relname, ', ' order by 1)
  $USER_TABLES and c.relname in ('experiments', 'runs', 'registered_models', 'model_versions')
    and (xpath('/row/e/text()', query_to_xml(format('select exists(select 1 from %I.%I) as e', n.nspname, c.relname), false, true, '')))[1]::text = 'true'"
TGT_TABLES=$(sql TARGET "select count(*) $USER_TABLES")
RESTORE_OPTS=()
if (( TGT_TABLES > 0 )); then
  HELD=$(sql TARGET "$MLFLOW_ROWS")
  if [[ "$NON_EMPTY_OK" != true ]]; then
    [[ -n "$HELD" ]] &&
      die 3 "target ${TARGET_SHOW} already holds MLflow rows (${HELD} not empty); refusing to overwrite, set ALLOW_NON_EMPTY_TARGET=true to drop and replace"
    die 3 "target ${TARGET_SHOW} already has ${TGT_TABLES} table(s) (no MLflow rows); the restore needs an empty database, set ALLOW_NON_EMPTY_TARGET=true to drop and replace"
  fi
  log "ALLOW_NON_EMPTY_TARGET=true: target has ${TGT_TABLES} table(s)${HELD:+ with MLflow rows in ${HELD}}; they are dropped and replaced"
  RESTORE_OPTS=(--clean --if-exists)
fi
SRC_TABLES=$(sql SOURCE "select count(*) $USER_TABLES")
OTHERS=$(sql SOURCE "select count(*) from pg_stat_activity where datname = current_database()
  and pid <> pg_backend_pid() and backend_type = 'client backend'")
if (( OTHERS > 0 )); then
  # A connected session can write during the copy: refuse unless told, so the freeze is enforced, not hoped for.
  [[ "${ALLOW_ACTIVE_SOURCE:-false}" == "true" ]] ||
    die 7 "${OTHERS} other session(s) connected to the source database: scale the tracking server to 0 (trackingServer.replicas: 0) and close other clients first, or set ALLOW_ACTIVE_SOURCE=true (a write during the copy then fails the verification)"
  log "warning: ${OTHERS} other session(s) connected to the source database (ALLOW_ACTIVE_SOURCE=true); a write during the copy fails the verification"
fi
(( SRC_TABLES > 0 )) || die 2 "source ${SOURCE_SHOW} has no tables: nothing to copy (wrong database name?)"

# ---- 3. dump and restore -----------------------------------------------------------------------------------------
if [[ -n "${WORK_DIR:-}" ]]; then
  mkdir -p "$WORK_DIR"; DUMP_DIR=$(mktemp -d "$WORK_DIR/migrate.XXXXXX")
else
  DUMP_DIR=$(mktemp -d "${TMPDIR:-/tmp}/migrate.XXXXXX")
fi
trap 'rm -rf "$DUMP_DIR"' EXIT
DUMP="$DUMP_DIR/mlflow.dump"

T0=$SECONDS
log "dumping ${SRC_TABLES} table(s) from source"
on SOURCE "$PG_DUMP" --format=custom --no-owner --no-acl --file="$DUMP" -d "$SOURCE_URL" 2> >(redact >&2) ||
  die 6 "pg_dump from source ${SOURCE_SHOW} failed (see the message above); the target was not touched"
log "dump done: $(du -h "$DUMP" | cut -f1) in $((SECONDS - T0))s"

T0=$SECONDS
log "restoring into target (single transaction)"
on TARGET "$PG_RESTORE" --no-owner --no-acl --exit-on-error --single-transaction "${RESTORE_OPTS[@]}" \
  -d "$TARGET_URL" "$DUMP" 2> >(redact >&2) ||
  die 6 "pg_restore into target ${TARGET_SHOW} failed (see the message above); the transaction was rolled back"
log "restore done in $((SECONDS - T0))s"

# ---- 4. verify ---------------------------------------------------------------------------------------------------
T0=$SECONDS
declare -A SRC_N TGT_N
while IFS='|' read -r t n; do if [[ -n "$t" ]]; then SRC_N[$t]=$n; fi; done < <(sql SOURCE "$COUNTS")
while IFS='|' read -r t n; do if [[ -n "$t" ]]; then TGT_N[$t]=$n; fi; done < <(sql TARGET "$COUNTS")
mapfile -t ALL < <(printf '%s\n' "${!SRC_N[@]}" "${!TGT_N[@]}" | sort -u)

DIFFS=0; SRC_ROWS=0
printf '%-48s %14s %14s\n' "schema.table" "source" "target"
for t in "${ALL[@]}"; do
  s=${SRC_N[$t]:--}; g=${TGT_N[$t]:--}; mark=""
  if [[ "$s" != "$g" ]]; then mark="  <-- differs"; DIFFS=$((DIFFS + 1)); fi
  [[ "$s" == - ]] || SRC_ROWS=$((SRC_ROWS + s))
  printf '%-48s %14s %14s%s\n' "$t" "$s" "$g" "$mark"
done

# Sequences: a restored table with a sequence behind its position would make the next insert collide.
SEQS="select schemaname || '.' || sequencename, coalesce(last_value::text, 'unset') from pg_sequences
  where schemaname not in ('pg_catalog', 'information_schema') order by 1"
SRC_SEQ=$(sql SOURCE "$SEQS"); TGT_SEQ=$(sql TARGET "$SEQS")
if [[ "$SRC_SEQ" != "$TGT_SEQ" ]]; then
  DIFFS=$((DIFFS + 1))
  log "sequence positions differ: source [${SRC_SEQ//$'\n'/ }] target [${TGT_SEQ//$'\n'/ }]"
fi

ALEMBIC="select coalesce((select string_agg(version_num, ',' order by version_num) from alembic_version), '')"
alembic_of() { if [[ $(sql "$1" "select to_regclass('alembic_version') is not null") == t ]]; then sql "$1" "$ALEMBIC"; else echo "(none)"; fi; }
SRC_ALEMBIC=$(alembic_of SOURCE); TGT_ALEMBIC=$(alembic_of TARGET)
printf '%-48s %14s %14s\n' "alembic_version" "$SRC_ALEMBIC" "$TGT_ALEMBIC"
if [[ "$SRC_ALEMBIC" != "$TGT_ALEMBIC" ]]; then DIFFS=$((DIFFS + 1)); fi

if (( DIFFS > 0 )); then
  die 4 "verification failed: ${DIFFS} difference(s) between source and target (were writers stopped?); do NOT switch the tracking server"
fi
# Planner statistics are not part of a dump: analyze the restored tables (only those: RDS users own no catalogs).
sql TARGET "$(sql TARGET "select 'analyze ' || string_agg(format('%I.%I', n.nspname, c.relname), ', ') $USER_TABLES")" >/dev/null
log "verify + analyze done in $((SECONDS - T0))s"
log "OK: ${#ALL[@]} tables, ${SRC_ROWS} rows, alembic ${SRC_ALEMBIC}, copied and verified in $((SECONDS - START))s"
