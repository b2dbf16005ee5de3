#!/usr/bin/env bash
# ox-summary against pt-summary + pt-mysql-summary, on the same host and the
# same throwaway server, in one run.
#
#   bench/summary/run.sh [RUNS]        (default 5 runs of each)
#
# Starts one mariadbd on 127.0.0.1 (its own temp datadir, binary log on,
# 10 schemas x 20 tables loaded), then times, RUNS times each, one after the
# other:
#   ox:  ox-summary --sleep 0 (host half and server half, over the socket)
#   pt:  pt-summary --sleep 0 ; pt-mysql-summary --sleep 0 (same socket)
# and prints the median wall time and the median CPU time (user + system,
# children included) of each, and the ratios pt / ox. Not a test: the
# figures depend on the machine. Installs Debian's percona-toolkit,
# mariadb-server and mariadb-client when missing (as root or with
# passwordless sudo). Set OX_SUMMARY to time another ox-summary binary.
set -euo pipefail

RUNS=${1:-5}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi
}

missing=()
command -v pt-summary >/dev/null || missing+=(percona-toolkit)
command -v mariadb >/dev/null || command -v mysql >/dev/null || missing+=(mariadb-client)
[ -x /usr/sbin/mariadbd ] || command -v mariadbd >/dev/null || missing+=(mariadb-server)
if [ ${#missing[@]} -gt 0 ]; then
    echo "bench: installing ${missing[*]}" >&2
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi
MARIADBD=$(command -v mariadbd || echo /usr/sbin/mariadbd)
CLIENT=$(command -v mariadb || command -v mysql)

if [ -z "${OX_SUMMARY:-}" ]; then
    (cd "$ROOT" && cargo build --release --quiet -p ox-summary)
    OX_SUMMARY=$ROOT/target/release/ox-summary
fi

DIR=$(mktemp -d /tmp/oxsb.XXXXXX)
SERVER_PID=
cleanup() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        "$CLIENT" --no-defaults -S "$DIR/sock" -uroot -e SHUTDOWN 2>/dev/null || kill "$SERVER_PID"
        for _ in $(seq 1 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -rf "$DIR"
}
trap cleanup EXIT

USER_ARG=()
[ "$(id -u)" = 0 ] && USER_ARG=(--user=root)

mariadb-install-db --no-defaults --datadir="$DIR/data" --auth-root-authentication-method=normal \
    --skip-test-db "${USER_ARG[@]}" >"$DIR/install.log" 2>&1

PORT=
for p in $(seq 34100 34199); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then PORT=$p; break; fi
done
[ -n "$PORT" ] || { echo "bench: no free port in 34100-34199" >&2; exit 1; }

"$MARIADBD" --no-defaults --datadir="$DIR/data" --socket="$DIR/sock" --pid-file="$DIR/pid" \
    --log-error="$DIR/error.log" --port="$PORT" --bind-address=127.0.0.1 --skip-name-resolve \
    --server-id=1 --log-bin="$DIR/data/mysql-bin" --innodb-buffer-pool-size=128M "${USER_ARG[@]}" \
    </dev/null >/dev/null 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 600); do
    "$CLIENT" --no-defaults -S "$DIR/sock" -uroot -e 'SELECT 1' >/dev/null 2>&1 && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$DIR/error.log" >&2; exit 1; }
    sleep 0.1
done

sql=""
for s in $(seq 1 10); do
    sql+="CREATE DATABASE db$s; USE db$s;"
    for t in $(seq 1 20); do
        sql+="CREATE TABLE t$t (id INT PRIMARY KEY, v VARCHAR(64), KEY (v));"
        sql+="INSERT INTO t$t SELECT seq, MD5(seq) FROM seq_1_to_1000;"
    done
done
"$CLIENT" --no-defaults -S "$DIR/sock" -uroot -e "$sql"

ox() { "$OX_SUMMARY" --no-config --no-defaults --sleep 0 -S "$DIR/sock" -u root; }
pt() {
    pt-summary --sleep 0
    pt-mysql-summary --sleep 0 --socket "$DIR/sock" --user root
}

# Checks before timing: both produce a report for this server.
ox >"$DIR/ox.out" 2>&1 || { cat "$DIR/ox.out" >&2; exit 1; }
grep -q "# Replication" "$DIR/ox.out"
pt >"$DIR/pt.out" 2>&1
grep -q "Report On Port $PORT" "$DIR/pt.out" || grep -q "Port Data Directory" "$DIR/pt.out" \
    || { echo "bench: pt-mysql-summary did not report on the server:" >&2; tail -20 "$DIR/pt.out" >&2; exit 1; }

TIMEFORMAT='%R %U %S'
for _ in $(seq 1 "$RUNS"); do
    { time ox >/dev/null 2>&1; } 2>>"$DIR/ox.times"
    { time pt >/dev/null 2>&1; } 2>>"$DIR/pt.times"
done

median() { sort -g | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
wall() { awk '{print $1}' "$1" | median; }
cpu() { awk '{print $2+$3}' "$1" | median; }

ox_wall=$(wall "$DIR/ox.times"); ox_cpu=$(cpu "$DIR/ox.times")
pt_wall=$(wall "$DIR/pt.times"); pt_cpu=$(cpu "$DIR/pt.times")
echo "ox-summary bench: $RUNS runs each, medians, MariaDB $("$CLIENT" --no-defaults -S "$DIR/sock" -uroot -N -e 'SELECT VERSION()'), $(nproc) CPUs"
printf '%-44s %9s %9s\n' "" "wall s" "cpu s"
printf '%-44s %9.3f %9.3f\n' "ox-summary --sleep 0" "$ox_wall" "$ox_cpu"
printf '%-44s %9.3f %9.3f\n' "pt-summary + pt-mysql-summary --sleep 0" "$pt_wall" "$pt_cpu"
awk -v ow="$ox_wall" -v oc="$ox_cpu" -v pw="$pt_wall" -v pc="$pt_cpu" 'BEGIN {
    fw = (ow > 0) ? pw / ow : 0; fc = (oc > 0) ? pc / oc : 0
    printf "%-44s %8.1fx %8.1fx\n", "pt / ox", fw, fc
    if (fw < 10) print "note: below the 10x wall-time target"
}'
