#!/usr/bin/env bash
# restore-database.sh — restore one database from a backup written by the mlflow-db-backup CronJob.
#
# Usage: restore-database.sh [--into-non-empty] <s3://bucket/backups/<db>/<stamp>.dump | latest> [<target database URL>]
#
#   <target database URL>   postgresql://user:password@host:port/db[?sslmode=...]; else TARGET_DATABASE_URL (preferred:
#                           a URL in the environment does not show in `ps`)
#   --into-non-empty        restore into a database that already has tables: the dump's objects are dropped and
#                           replaced (pg_restore --clean --if-exists); tables the dump does not hold stay
#   BACKUP_PREFIX           s3://bucket/backups/<db>: where "latest" looks (the newest <stamp>.dump directly under it)
#   PG_BIN                  directory of the PostgreSQL client tools, at least the dump's major version (default: PATH)
#   PYTHON                  a Python 3 with boto3 (default: python3); S3 credentials and endpoint from the AWS
#                           environment (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, AWS_ENDPOINT_URL_S3)
#   WORK_DIR                where the dump is downloaded (default: a temporary directory under TMPDIR), removed after
#
# Nothing is written to the target before every check has passed: the target is reachable and empty (or
# --into-non-empty), the dump exists, is not empty, matches the sha256 recorded at backup time, and reads completely
# (`pg_restore --list`, then a full read to /dev/null). The restore is one transaction: if it fails, the target is as
# it was. Then every table's exact row count is printed (`schema.table rows`) and the restored tables are analyzed.
#
# Exit codes: 0 restored · 2 bad input or missing tool · 3 the target is not empty (refused) · 4 no such dump ·
# 5 S3 or the target database unreachable · 6 the dump is empty or corrupt (refused) · 7 pg_restore failed (rolled back).
# Every refusal is one line on stderr starting with `restore-database: error:`. Passwords never reach the output or the
# tools' command lines.
set -euo pipefail

PROG=restore-database
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
log() { printf '%s %s: %s\n' "$(date -u +%H:%M:%S)" "$PROG" "$*"; }
die() { local code=$1; shift; printf '%s: error: %s\n' "$PROG" "$*" >&2; exit "$code"; }
redact() { sed -E 's#([a-zA-Z][a-zA-Z0-9+.-]*://[^:/@?[:space:]]*):[^@[:space:]]*@#\1:***@#g; s#(password=)[^&[:space:]]*#\1***#g'; }
first_error() { redact | grep -v '^[[:space:]]*$' | head -n1 | sed -E 's/^pg_restore: (error: )?//'; }

# ---- arguments ---------------------------------------------------------------------------------------------------
NON_EMPTY_OK=false
POSITIONAL=()
while (($#)); do
  case "$1" in
    --into-non-empty) NON_EMPTY_OK=true ;;
    -h|--help) sed -n '2,25p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --) shift; POSITIONAL+=("$@"); break ;;
    -*) die 2 "unknown option $1 (usage: $PROG [--into-non-empty] <s3://…/<stamp>.dump | latest> [<target database URL>])" ;;
    *) POSITIONAL+=("$1") ;;
  esac
  shift
done
((${#POSITIONAL[@]} >= 1 && ${#POSITIONAL[@]} <= 2)) ||
  die 2 "usage: $PROG [--into-non-empty] <s3://…/<stamp>.dump | latest> [<target database URL>] (or TARGET_DATABASE_URL)"
DUMP_ARG=${POSITIONAL[0]}
TARGET_RAW=${POSITIONAL[1]:-${TARGET_DATABASE_URL:-}}
if [[ "$DUMP_ARG" == latest ]]; then
  [[ -n "${BACKUP_PREFIX:-}" ]] || die 2 "'latest' needs BACKUP_PREFIX=s3://<bucket>/backups/<db> (where the CronJob writes that database's dumps)"
  [[ "$BACKUP_PREFIX" == s3://* ]] || die 2 "BACKUP_PREFIX must be an s3:// URI, got '${BACKUP_PREFIX}'"
else
  [[ "$DUMP_ARG" =~ ^s3://[^/]+/.+ ]] || die 2 "the dump must be an s3://<bucket>/<key> URI or 'latest', got '${DUMP_ARG}'"
fi

# ---- tools -------------------------------------------------------------------------------------------------------
tool() { if [[ -n "${PG_BIN:-}" ]]; then printf '%s/%s' "$PG_BIN" "$1"; else printf '%s' "$1"; fi; }
for t in psql pg_restore; do
  command -v "$(tool "$t")" >/dev/null 2>&1 || die 2 "PostgreSQL client tool '$t' not found (PG_BIN='${PG_BIN:-}')"
done
PSQL=$(tool psql); PG_RESTORE=$(tool pg_restore)
PYTHON=${PYTHON:-python3}
"$PYTHON" -c 'import boto3' >/dev/null 2>&1 || die 2 "'$PYTHON' cannot import boto3 (set PYTHON to an interpreter that has it, e.g. a venv of images/mlflow/requirements.txt)"
export PGCONNECT_TIMEOUT="${PGCONNECT_TIMEOUT:-10}"

# ---- target URL: the password goes to the tools in PGPASSWORD only -------------------------------------------------
percent_decode() { local s=${1//\\/\\\\}; printf '%b' "${s//'%'/\\x}"; }
[[ -n "$TARGET_RAW" ]] || die 2 "no target: pass the target database URL or set TARGET_DATABASE_URL (postgresql://user:password@host:5432/db)"
[[ "$TARGET_RAW" =~ ^postgres(ql)?(\+[A-Za-z0-9_]+)?:// ]] ||
  die 2 "the target must be a postgresql:// URL (got '$(printf '%s' "$TARGET_RAW" | redact | cut -c1-40)…')"
TARGET_SHOW=$(printf '%s' "$TARGET_RAW" | redact)
rest=${TARGET_RAW#*://}; TARGET_PW=""
if [[ "$rest" == *@* && "${rest%%@*}" != */* ]]; then
  userinfo=${rest%%@*}; rest=${rest#*@}
  [[ "$userinfo" == *:* ]] && TARGET_PW=$(percent_decode "${userinfo#*:}")
  TARGET_URL="postgresql://${userinfo%%:*}@${rest}"
else
  TARGET_URL="postgresql://${rest}"
fi
on_target() { if [[ -n "$TARGET_PW" ]]; then PGPASSWORD="$TARGET_PW" "$@"; else "$@"; fi; }
sql() { on_target "$PSQL" -X -q -At -v ON_ERROR_STOP=1 -d "$TARGET_URL" -c "$1" 2> >(redact >&2); }

START=$SECONDS
# ---- 1. the target: reachable, and empty unless --into-non-empty -------------------------------------------------
if ! out=$(on_target "$PSQL" -X -q -At -v ON_ERROR_STOP=1 -d "$TARGET_URL" -c 'select 1' 2>&1); then
  die 5 "target database unreachable at ${TARGET_SHOW}: $(printf '%s' "$out" | first_error)"
fi
USER_TABLES="from pg_class c join pg_namespace n on n.oid = c.relnamespace
  where c.relkind in ('r', 'p') and n.nspname not in ('pg_catalog', 'information_schema')
    and n.nspname not like 'pg\_toast%' and n.nspname not like 'pg\_temp%'"
TGT_TABLES=$(sql "select count(*) $USER_TABLES")
RESTORE_OPTS=()
if ((TGT_TABLES > 0)); then
  [[ "$NON_EMPTY_OK" == true ]] ||
    die 3 "target ${TARGET_SHOW} is not empty (${TGT_TABLES} table(s)); refusing to restore into it, pass --into-non-empty to drop and replace what the dump holds"
  log "--into-non-empty: the target has ${TGT_TABLES} table(s); the dump's objects are dropped and replaced"
  RESTORE_OPTS=(--clean --if-exists)
fi

# ---- 2. the dump: exists, not empty, its recorded sha256, reads completely ------------------------------------------
if [[ -n "${WORK_DIR:-}" ]]; then mkdir -p "$WORK_DIR"; DIR=$(mktemp -d "$WORK_DIR/restore.XXXXXX"); else DIR=$(mktemp -d "${TMPDIR:-/tmp}/restore.XXXXXX"); fi
trap 'rm -rf "$DIR"' EXIT
DUMP="$DIR/backup.dump"
FETCH=("$PYTHON" "$HERE/fetch-backup.py" "$DUMP_ARG" "$DUMP")
[[ "$DUMP_ARG" == latest ]] && FETCH+=(--prefix "$BACKUP_PREFIX")
set +e
URI=$("${FETCH[@]}" 2>"$DIR/fetch.err")
code=$?
set -e
if ((code != 0)); then
  msg=$(grep -v '^[[:space:]]*$' "$DIR/fetch.err" | tail -n1)
  case $code in 2|4|5|6) die "$code" "$msg" ;; *) die 5 "fetching the dump failed: ${msg}" ;; esac
fi
SIZE=$(stat -c %s "$DUMP")
((SIZE > 0)) || die 6 "dump ${URI} is empty (0 bytes); refusing to restore it"
if ! out=$("$PG_RESTORE" --list "$DUMP" 2>&1 >"$DIR/toc"); then
  die 6 "dump ${URI} is corrupt: pg_restore --list cannot read it ($(printf '%s' "$out" | first_error)); refusing to restore it"
fi
if ! out=$("$PG_RESTORE" --file=/dev/null "$DUMP" 2>&1); then
  die 6 "dump ${URI} is corrupt: it does not read to its end ($(printf '%s' "$out" | first_error)); refusing to restore it"
fi
DUMP_TABLES=$(grep -c ' TABLE DATA ' "$DIR/toc" || true)
log "dump ${URI}: ${SIZE} bytes, ${DUMP_TABLES} tables, reads completely"

# ---- 3. restore, one transaction -------------------------------------------------------------------------------------
T0=$SECONDS
log "restoring into ${TARGET_SHOW} (single transaction)"
on_target "$PG_RESTORE" --no-owner --no-acl --exit-on-error --single-transaction "${RESTORE_OPTS[@]}" -d "$TARGET_URL" "$DUMP" 2> >(redact >&2) ||
  die 7 "pg_restore into ${TARGET_SHOW} failed (see the message above); the transaction was rolled back, the target is as it was"
log "restore done in $((SECONDS - T0))s"

# ---- 4. every table's row count ----------------------------------------------------------------------------------
COUNTS="select n.nspname || '.' || c.relname,
  (xpath('/row/n/text()', query_to_xml(format('select count(*) as n from %I.%I', n.nspname, c.relname), false, true, '')))[1]::text
  $USER_TABLES order by 1"
TABLES=0; ROWS=0
printf '%-48s %14s\n' "schema.table" "rows"
while IFS='|' read -r t n; do
  [[ -n "$t" ]] || continue
  printf '%-48s %14s\n' "$t" "$n"
  TABLES=$((TABLES + 1)); ROWS=$((ROWS + n))
done < <(sql "$COUNTS")
sql "$(sql "select 'analyze ' || string_agg(format('%I.%I', n.nspname, c.relname), ', ') $USER_TABLES")" >/dev/null
log "OK: restored ${URI} into ${TARGET_SHOW}: ${TABLES} tables, ${ROWS} rows in $((SECONDS - START))s"
