#!/usr/bin/env bash
# ox-backup --method physical against mariadb-backup, same data, same run,
# both under a sysbench oltp_write_only load, plus the equivalence check of
# issue 8.
#
#   bench/backup-physical/run.sh [ROWS_PER_TABLE] [TABLES]
#                                  (default 250000 x 4 sysbench tables, ~240 MB)
#
# One mariadbd on a temp datadir (socket only, binary log on, a 96 MiB redo
# log so the load wraps it during a backup), `sysbench oltp_write_only
# prepare`, then:
#   1. load only: oltp_write_only for LOAD_SECS (default 20): the baseline tps;
#   2. ox-backup backup --method physical while oltp_write_only runs: backup
#      time, tps during it, the LSN delta over the log capacity (wraps),
#      BLOCK_COMMIT hold time;
#   3. the load stops; COUNT(*) and CHECKSUM TABLE .. EXTENDED of every
#      table on the source;
#   4. ox-backup restore --to-datadir (decode + prepare by crash recovery) +
#      start a server on it: the restore time; then the source's binary logs
#      from the recorded position are replayed into it and every count and
#      checksum is compared with the source (EQUAL or DIFFERENT);
#   5. ox-backup verify (restore + prepare + CHECK TABLE + the per-table
#      checksums of the backup point): status and its restore time;
#   6. mariadb-backup --backup while oltp_write_only runs (tps during it),
#      then --prepare + --copy-back + start a server: the restore time.
# Prints wall times, ratios ox / mariadb-backup and tps. ox-backup stores
# zstd-compressed files (level 1 here); mariadb-backup writes a plain copy.
# mariadb-backup runs after ox-backup, on data grown by the first load.
# Not a test: the figures depend on the machine (say so when quoting them).
# Installs Debian's mariadb-backup and sysbench when missing (as root). Set
# OX_BACKUP to time another binary (default: a release build), OX_MAX_RATE
# to throttle ox-backup's reads (a longer backup wraps the redo more often:
# on a slow machine OX_MAX_RATE=3M makes the load wrap a 96 MiB log twice),
# REDO_MB for another log size, LOAD_SECS, SB_THREADS.
set -euo pipefail

ROWS=${1:-250000}
TABLES=${2:-4}
LOAD_SECS=${LOAD_SECS:-20}
SB_THREADS=${SB_THREADS:-4}
REDO_MB=${REDO_MB:-96}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
for p in mariadb-backup sysbench; do
    command -v $p >/dev/null || {
        echo "bench: installing $p" >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q $p >/dev/null
    }
done
if [ -z "${OX_BACKUP:-}" ]; then
    (cd "$ROOT" && cargo build --release --quiet -p ox-backup)
    OX_BACKUP=$ROOT/target/release/ox-backup
fi
MARIADBD=$(command -v mariadbd || echo /usr/sbin/mariadbd)
W=$(mktemp -d /tmp/oxk-bench-phys.XXXXXX)
PIDS=()
SB_PID=
cleanup() {
    [ -n "$SB_PID" ] && kill "$SB_PID" 2>/dev/null || true
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    sleep 1
    rm -rf "$W"
}
trap cleanup EXIT

now() { date +%s.%N; }
start_server() { # datadir sockdir
    mkdir -p "$2"
    "$MARIADBD" --no-defaults --datadir="$1" --socket="$2/s.sock" --port=0 \
        --skip-networking --log-error="$2/err.log" --pid-file="$2/pid" \
        --innodb-buffer-pool-size=512M --innodb-log-file-size=${REDO_MB}M \
        --log-bin="$1/mysql-bin" --server-id=1 --user=root >/dev/null 2>&1 &
    PIDS+=($!)
    for _ in $(seq 1 1200); do
        mariadb --no-defaults -uroot --socket="$2/s.sock" -e 'SELECT 1' >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    echo "server on $1 did not start" >&2; tail "$2/err.log" >&2; exit 1
}
stop_server() { # sockdir
    mariadb --no-defaults -uroot --socket="$1/s.sock" -e 'SHUTDOWN' >/dev/null 2>&1 || true
    for _ in $(seq 1 1200); do [ -e "$1/s.sock" ] || return 0; sleep 0.05; done
    echo "server on $1 did not stop" >&2; exit 1
}
status() { # sockdir name
    mariadb --no-defaults -uroot --socket="$1/s.sock" -N -e "SHOW GLOBAL STATUS LIKE '$2'" | cut -f2
}
SBOPTS=(--db-driver=mysql --mysql-socket="$W/srcrun/s.sock" --mysql-user=root
    --mysql-db=sbtest --tables="$TABLES" --table-size="$ROWS" --threads="$SB_THREADS")
load_start() {
    sysbench oltp_write_only "${SBOPTS[@]}" --time=3600 --report-interval=0 run >"$W/sb.$1.log" 2>&1 &
    SB_PID=$!
    sleep 3
}
load_stop() {
    kill "$SB_PID" 2>/dev/null || true
    wait "$SB_PID" 2>/dev/null || true
    SB_PID=
}
sums() { # sockdir -> one line per table: name count checksum
    for i in $(seq 1 "$TABLES"); do
        c=$(mariadb --no-defaults -uroot --socket="$1/s.sock" -N -e "SELECT COUNT(*) FROM sbtest.sbtest$i")
        s=$(mariadb --no-defaults -uroot --socket="$1/s.sock" -N -e "CHECKSUM TABLE sbtest.sbtest$i EXTENDED" | cut -f2)
        echo "sbtest$i $c $s"
    done
}
json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }

mariadb-install-db --no-defaults --datadir="$W/src" --auth-root-authentication-method=normal \
    --skip-test-db >/dev/null 2>&1
start_server "$W/src" "$W/srcrun"
SQL="mariadb --no-defaults -uroot --socket=$W/srcrun/s.sock"
$SQL -e "CREATE DATABASE sbtest"
sysbench oltp_write_only "${SBOPTS[@]}" prepare >"$W/sb.prepare.log" 2>&1
echo "data: $($SQL -N -e "SELECT ROUND(SUM(data_length+index_length)/1048576) FROM information_schema.tables WHERE table_schema='sbtest'") MB, $TABLES x $ROWS rows" >&2
CAP=$((REDO_MB * 1048576 - 12288))

# 1. Load only.
c0=$(status "$W/srcrun" Com_commit); t0=$(now)
sysbench oltp_write_only "${SBOPTS[@]}" --time="$LOAD_SECS" run >"$W/sb.base.log" 2>&1
c1=$(status "$W/srcrun" Com_commit); t1=$(now)
TPS_BASE=$(echo "($c1 - $c0) / ($t1 - $t0)" | bc -l)

# 2. ox-backup under load.
DSN="S=$W/srcrun/s.sock,u=root"
RATE=()
[ -n "${OX_MAX_RATE:-}" ] && RATE=(--max-rate "$OX_MAX_RATE")
load_start ox
l0=$(status "$W/srcrun" Innodb_lsn_current); c0=$(status "$W/srcrun" Com_commit); t0=$(now)
"$OX_BACKUP" backup "$DSN" --repo "$W/repo" --method physical --compress-level 1 --threads 2 \
    "${RATE[@]}" --format json >"$W/ox.json" 2>"$W/ox.err" || {
    echo "ox-backup backup failed:" >&2; cat "$W/ox.err" >&2; exit 1
}
t1=$(now); c1=$(status "$W/srcrun" Com_commit); l1=$(status "$W/srcrun" Innodb_lsn_current)
load_stop
OX_B=$(echo "$t1 - $t0" | bc)
TPS_OX=$(echo "($c1 - $c0) / ($t1 - $t0)" | bc -l)
WRAPS=$(echo "($l1 - $l0) / $CAP" | bc -l)
LOCK_MS=$(json "$W/ox.json" "d['backup']['position']['lock_ms']")
FILE=$(json "$W/ox.json" "d['backup']['position']['binlog_file']")
POS=$(json "$W/ox.json" "d['backup']['position']['binlog_pos']")
REDO=$(json "$W/ox.json" "[f['raw_size'] for f in d['backup']['files'] if f['path'] == 'redo.log'][0]")

# 3. The source after the load.
sums "$W/srcrun" >"$W/want"

# 4. Restore + start, then replay the binary logs from the recorded position.
t0=$(now); "$OX_BACKUP" restore --repo "$W/repo" --to-datadir "$W/oxr" >/dev/null; start_server "$W/oxr" "$W/oxrun"; t1=$(now)
OX_R=$(echo "$t1 - $t0" | bc)
LOGS=$(cd "$W/src" && ls mysql-bin.[0-9]* | awk -v f="$FILE" '$0 >= f')
(cd "$W/src" && mariadb-binlog --no-defaults --disable-log-bin --start-position="$POS" $LOGS) |
    mariadb --no-defaults -uroot --socket="$W/oxrun/s.sock" --binary-mode
sums "$W/oxrun" >"$W/got"
if cmp -s "$W/want" "$W/got"; then EQUIV=EQUAL; else EQUIV=DIFFERENT; diff "$W/want" "$W/got" >&2 || true; fi
stop_server "$W/oxrun"

# 5. verify.
"$OX_BACKUP" verify --repo "$W/repo" --format json >"$W/verify.json" || true
V_STATUS=$(json "$W/verify.json" "d['status']")
V_RESTORE=$(json "$W/verify.json" "round(d['restore_secs'], 2)")
V_TABLES=$(json "$W/verify.json" "sum(1 for t in d['tables'] if t['ok'])")

# 6. mariadb-backup under load, then prepare + copy-back + start.
load_start mb
c0=$(status "$W/srcrun" Com_commit); t0=$(now)
mariadb-backup --backup --target-dir="$W/mb" --user=root --socket="$W/srcrun/s.sock" >"$W/mb.log" 2>&1
t1=$(now); c1=$(status "$W/srcrun" Com_commit)
load_stop
MB_B=$(echo "$t1 - $t0" | bc)
TPS_MB=$(echo "($c1 - $c0) / ($t1 - $t0)" | bc -l)
stop_server "$W/srcrun"
t0=$(now)
mariadb-backup --prepare --target-dir="$W/mb" >>"$W/mb.log" 2>&1
mariadb-backup --copy-back --target-dir="$W/mb" --datadir="$W/mbr" >>"$W/mb.log" 2>&1
start_server "$W/mbr" "$W/mbrun"; t1=$(now)
MB_R=$(echo "$t1 - $t0" | bc)
stop_server "$W/mbrun"

echo "sysbench oltp_write_only, $SB_THREADS threads, $TABLES x $ROWS rows; ${REDO_MB} MiB redo log; ox-backup ${RATE[*]:-unthrottled}"
printf '%-26s %12s %16s %8s\n' phase ox-backup mariadb-backup ox/mb
printf '%-26s %11.2fs %15.2fs %8.2f\n' "backup (under load)" "$OX_B" "$MB_B" "$(echo "$OX_B / $MB_B" | bc -l)"
printf '%-26s %11.2fs %15.2fs %8.2f\n' "prepare+restore+start" "$OX_R" "$MB_R" "$(echo "$OX_R / $MB_R" | bc -l)"
printf '%-26s %12.0f %16.0f %8.2f\n' "tps during backup" "$TPS_OX" "$TPS_MB" "$(echo "$TPS_OX / $TPS_MB" | bc -l)"
printf 'tps load only: %.0f (ox-backup keeps %.0f%%, mariadb-backup %.0f%%)\n' "$TPS_BASE" \
    "$(echo "100 * $TPS_OX / $TPS_BASE" | bc -l)" "$(echo "100 * $TPS_MB / $TPS_BASE" | bc -l)"
printf 'redo during the ox-backup run: %.1f MiB written = %.2f x the log capacity; %.1f MiB copied\n' \
    "$(echo "($l1 - $l0) / 1048576" | bc -l)" "$WRAPS" "$(echo "$REDO / 1048576" | bc -l)"
echo "BLOCK_COMMIT held: ${LOCK_MS} ms"
grep -h warning "$W/ox.err" || true
echo "restore + binlog replay from $FILE:$POS vs source (COUNT + CHECKSUM TABLE EXTENDED, $TABLES tables): $EQUIV"
echo "verify: $V_STATUS, restore ${V_RESTORE}s, $V_TABLES tables match the backup point's checksums"
[ "$EQUIV" = EQUAL ] && [ "$V_STATUS" = passed ]
