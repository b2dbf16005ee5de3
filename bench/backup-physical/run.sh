#!/usr/bin/env bash
# ox-backup --method physical against mariadb-backup, same data, same run.
#
#   bench/backup-physical/run.sh [ROWS]      (default 1000000 rows, ~200 MB)
#
# Starts one mariadbd on 127.0.0.1 (temp datadir, binary log on), loads a
# sysbench-shaped table, then times one after the other:
#   backup:  ox-backup backup --method physical   vs  mariadb-backup --backup
#   restore: ox-backup restore --to-datadir (decode + prepare by crash
#            recovery) + start a server on it
#            vs  mariadb-backup --prepare + --copy-back + start a server
# and prints wall times and ratios ox / mariadb-backup. ox-backup stores
# zstd-compressed files (level 1 here); mariadb-backup writes a plain copy.
# Not a test: the figures depend on the machine. Installs Debian's
# mariadb-backup when missing (as root). Set OX_BACKUP to time another
# binary (default: a release build).
set -euo pipefail

ROWS=${1:-1000000}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
command -v mariadb-backup >/dev/null || {
    echo "bench: installing mariadb-backup" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q mariadb-backup >/dev/null
}
if [ -z "${OX_BACKUP:-}" ]; then
    (cd "$ROOT" && cargo build --release --quiet -p ox-backup)
    OX_BACKUP=$ROOT/target/release/ox-backup
fi
MARIADBD=$(command -v mariadbd || echo /usr/sbin/mariadbd)
W=$(mktemp -d /tmp/oxk-bench-phys.XXXXXX)
PIDS=()
cleanup() {
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
        --innodb-buffer-pool-size=512M --innodb-log-file-size=96M \
        --log-bin="$1/mysql-bin" --server-id=1 --user=root >/dev/null 2>&1 &
    PIDS+=($!)
    for _ in $(seq 1 600); do
        mariadb --no-defaults -uroot --socket="$2/s.sock" -e 'SELECT 1' >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    echo "server on $1 did not start" >&2; tail "$2/err.log" >&2; exit 1
}
stop_server() { # sockdir
    mariadb --no-defaults -uroot --socket="$1/s.sock" -e 'SHUTDOWN' >/dev/null 2>&1 || true
    while [ -e "$1/s.sock" ]; do sleep 0.05; done
}

mariadb-install-db --no-defaults --datadir="$W/src" --auth-root-authentication-method=normal \
    --skip-test-db >/dev/null 2>&1
start_server "$W/src" "$W/srcrun"
SQL="mariadb --no-defaults -uroot --socket=$W/srcrun/s.sock"
$SQL -e "CREATE DATABASE sb; CREATE TABLE sb.t (id INT PRIMARY KEY, k INT, c CHAR(120), pad CHAR(60), KEY(k)) ENGINE=InnoDB;
         INSERT INTO sb.t SELECT seq, seq % 1000, REPEAT(CHAR(65 + seq % 26), 120), REPEAT('p', 60) FROM sb.seq_1_to_$ROWS;"
$SQL -N -e "ANALYZE TABLE sb.t" >/dev/null
echo "data: $($SQL -N -e "SELECT ROUND(SUM(data_length+index_length)/1048576) FROM information_schema.tables WHERE table_schema='sb'") MB, $ROWS rows" >&2

DSN="S=$W/srcrun/s.sock,u=root"
t0=$(now); "$OX_BACKUP" backup "$DSN" --repo "$W/repo" --method physical --compress-level 1 --threads 2 >"$W/ox.out"; t1=$(now)
OX_B=$(echo "$t1 - $t0" | bc)
t0=$(now); mariadb-backup --backup --target-dir="$W/mb" --user=root --socket="$W/srcrun/s.sock" >/dev/null 2>&1; t1=$(now)
MB_B=$(echo "$t1 - $t0" | bc)
stop_server "$W/srcrun"

t0=$(now); "$OX_BACKUP" restore --repo "$W/repo" --to-datadir "$W/oxr" >/dev/null; start_server "$W/oxr" "$W/oxrun"; t1=$(now)
OX_R=$(echo "$t1 - $t0" | bc)
OX_ROWS=$(mariadb --no-defaults -uroot --socket="$W/oxrun/s.sock" -N -e 'SELECT COUNT(*) FROM sb.t')
stop_server "$W/oxrun"
t0=$(now)
mariadb-backup --prepare --target-dir="$W/mb" >/dev/null 2>&1
mariadb-backup --copy-back --target-dir="$W/mb" --datadir="$W/mbr" >/dev/null 2>&1
start_server "$W/mbr" "$W/mbrun"; t1=$(now)
MB_R=$(echo "$t1 - $t0" | bc)
MB_ROWS=$(mariadb --no-defaults -uroot --socket="$W/mbrun/s.sock" -N -e 'SELECT COUNT(*) FROM sb.t')
stop_server "$W/mbrun"

printf '%-10s %12s %16s %8s\n' phase ox-backup mariadb-backup ox/mb
printf '%-10s %11.2fs %15.2fs %8.2f\n' backup "$OX_B" "$MB_B" "$(echo "$OX_B / $MB_B" | bc -l)"
printf '%-10s %11.2fs %15.2fs %8.2f\n' restore "$OX_R" "$MB_R" "$(echo "$OX_R / $MB_R" | bc -l)"
echo "rows restored: ox $OX_ROWS, mariadb-backup $MB_ROWS (want $ROWS)"
echo "ox-backup: $(tail -1 "$W/ox.out")"
