#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The benchmark suite, run inside the guest (busybox sh) by scripts/bench.sh:
#   suite.sh quick|full
#
# Plans every run, then runs them in order; prints "progress I N WHAT"
# before each, the programs' "csv,..." lines, and the cport traces between
# "=== trace NAME begin" and "=== trace end".  server, loadgen and floor
# are on PATH, and Debian's sockperf and wrk when bench.sh found them
# (dynamic: run-guest.sh --extra-bin brings their libraries).
#
# BENCH_ONLY=clients plans only the runs of sockperf and wrk, and loadgen's
# at 1 and 64 connections on the same systems.  BENCH_PLAN="LINE;LINE..."
# replaces the plan with those lines (an A/B of a few points, in one boot).
MODE=${1:-quick}
NCPU=$(nproc)
if [ "$MODE" = full ]; then
	D=3 W=0.5 FD=2
	CONNS="1 8 64 256 1000" LENS="64 512 4096"
	RATES="0.02 0.1 0.3 0.6 0.9" SERVICES="0 10 bimodal"
	OPEN_SYS="epoll-rp epoll-shared uring cport:lifo:1 cport:lifo:16 cport:fifo:1 cport:rr:1 cport:cpu:1"
	EXT_SYS=all
else
	D=2 W=0.5 FD=1
	CONNS="1 64 256" LENS="64"
	RATES="0.02 0.1 0.5 0.8" SERVICES="0"
	OPEN_SYS="epoll-rp uring cport:lifo:1 cport:fifo:1"
	EXT_SYS="epoll-rp uring cport:lifo:16 cport-ms:lifo:16 cport-msr:lifo:16"
fi
# model[:policy:batch]: the policy by the name the port's fdinfo prints
# (lifo, fifo, rr, cpu), the batch in completions per wait; cport-ms is
# cport with one multishot RECV per connection from a buffer group,
# cport-msr is cport-ms taking completions from the port's completion ring
SYSTEMS="epoll-rp epoll-shared uring cport:lifo:1 cport:lifo:16 cport-ms:lifo:16 cport-msr:lifo:16 cport:fifo:1 cport:fifo:16 cport:rr:1 cport:rr:16 cport:cpu:1 cport:cpu:16"
BURST_SYS="epoll-shared uring cport:lifo:1 cport:lifo:16 cport:fifo:1 cport:rr:1 cport:cpu:1"
[ "$EXT_SYS" != all ] || EXT_SYS=$SYSTEMS
# The clients nobody here wrote: sockperf (one TCP connection: ping-pong,
# then under load at SP_MPS messages/s, one in SP_EVERY answered) against
# the servers' sockperf protocol, wrk (one thread) against their HTTP
# responder at WRK_CONNS connections.
SP_MPS=10000 SP_EVERY=10 WRK_CONNS="64 256 1000"

PLAN=/tmp/plan
: > $PLAN
echo "floor" >> $PLAN
# One connection is where the systems should be at parity, and where one
# slow moment of a shared host moves a figure most: three passes over all
# systems, the report takes the median.
for rep in 1 2 3; do
	for s in $SYSTEMS; do echo "closed $s 1 64 $rep" >> $PLAN; done
done
for c in $CONNS; do
	[ "$c" != 1 ] || continue
	for l in $LENS; do
		[ "$c" = 64 ] || [ "$l" = 64 ] || continue
		for s in $SYSTEMS; do echo "closed $s $c $l 1" >> $PLAN; done
	done
done
[ "$MODE" = quick ] && for s in $SYSTEMS; do echo "closed $s 64 4096 1" >> $PLAN; done
for svc in $SERVICES; do
	for r in $RATES; do
		for s in $OPEN_SYS; do echo "open $s 64 $svc $r" >> $PLAN; done
	done
done
for s in $BURST_SYS; do echo "burst $s 32" >> $PLAN; done
if [ "$MODE" = full ]; then
	for s in epoll-rp epoll-shared uring cport:lifo:1 cport:fifo:1; do
		echo "storm $s" >> $PLAN
	done
fi
echo "trace cport:lifo:1 lifo" >> $PLAN
echo "trace cport:fifo:1 fifo" >> $PLAN
echo "trace floor floor" >> $PLAN
for s in $EXT_SYS; do echo "sockperf $s pp" >> $PLAN; done
for s in $EXT_SYS; do echo "sockperf $s ul" >> $PLAN; done
for c in $WRK_CONNS; do
	for s in $EXT_SYS; do echo "wrk $s $c" >> $PLAN; done
done
if [ "${BENCH_ONLY:-}" = clients ]; then
	# Only those, and loadgen beside them at 1 and 64 connections (the
	# report compares the clients).
	grep -E '^(sockperf|wrk) ' $PLAN > $PLAN.only
	for c in 1 64; do
		for s in $EXT_SYS; do echo "closed $s $c 64 1" >> $PLAN.only; done
	done
	mv $PLAN.only $PLAN
fi
[ -z "${BENCH_PLAN:-}" ] || echo "$BENCH_PLAN" | tr ";" "\n" > $PLAN
TOTAL=$(wc -l < $PLAN)
echo "plan $MODE $TOTAL runs, duration ${D}s each, $NCPU vCPUs"

SKIPPED=" "
SAT=0		# best closed-loop requests/s at 64 connections, 64 bytes
I=0
PORT=7000

# server_args SYSTEM: the server's options for model[:policy:batch]
server_args() {
	case $1 in
	cport:* | cport-ms:* | cport-msr:*)
		p=${1#*:}; b=${p#*:}; p=${p%%:*}
		echo "-m ${1%%:*} -P $p -b $b";;
	*)	echo "-m $1";;
	esac
}

# start_server TAG SYSTEM SERVICE PROTO: start a server on a new PORT
# (pid in spid) and wait until it is ready; false if it is not running.
start_server() {
	tag=$1 sys=$2 svc=$3 proto=$4
	case $SKIPPED in *" $sys "*)
		echo "csv,skip,$tag,system=$sys,why=policy not supported by this module"
		return 1;;
	esac
	PORT=$((PORT + 1))
	# A fresh file, before the server starts: the ready check must not
	# see the previous run's line.
	rm -f /tmp/srv.out
	: > /tmp/srv.out
	server $(server_args "$sys") -s "$svc" -k "$proto" -p $PORT -T "$tag" \
		> /tmp/srv.out 2>&1 &
	spid=$!
	i=0
	while ! grep -q '^server: .*ready' /tmp/srv.out 2> /dev/null; do
		i=$((i + 1))
		if ! kill -0 $spid 2> /dev/null || [ $i -gt 100 ]; then break; fi
		sleep 0.1
	done
	if ! kill -0 $spid 2> /dev/null; then
		wait $spid
		rc=$?
		if [ $rc = 3 ]; then
			SKIPPED="$SKIPPED$sys "
			grep '^csv,skip' /tmp/srv.out
		else
			echo "error: server $sys exited with $rc"
			cat /tmp/srv.out
		fi
		return 1
	fi
}

# stop_server: end the server and print its lines.
stop_server() {
	sleep 0.3
	kill -TERM $spid 2> /dev/null
	wait $spid
	grep -v '^server: .*ready' /tmp/srv.out
}

# run_one TAG SYSTEM SERVICE LOADGEN-ARGS...: one server, one client.
run_one() {
	tag=$1 sys=$2 svc=$3
	shift 3
	start_server "$tag" "$sys" "$svc" echo || return
	loadgen -a 127.0.0.1:$PORT -w $W -S $spid -T "$tag" "$@" > /tmp/cli.out 2>&1
	crc=$?
	stop_server
	cat /tmp/cli.out
	[ $crc = 0 ] || echo "error: loadgen $tag exited with $crc"
	LAST_RPS=$(sed -n 's/.*,rps=\([0-9.]*\),.*/\1/p' /tmp/cli.out)
}

# The CPU time of process PID (all its threads) in clock ticks, nothing
# when PID is gone; the time since boot in seconds.  A share of the CPUs
# is over the elapsed time times the vCPUs: under TCG on a busy host the
# ticks of /proc/stat fall behind the time the tasks ran.
proc_ticks() { awk '{print $14 + $15}' /proc/$1/stat 2> /dev/null; }
uptime_s() { cut -d' ' -f1 /proc/uptime; }

# wrk prints its counts and percentiles (us) through this script.
cat > /tmp/wrk-stats.lua <<'LUA'
done = function(summary, latency, requests)
	local e = summary.errors
	io.write(string.format("wrkstat requests=%d duration_us=%d p50=%d p99=%d p999=%d max=%d errors=%d\n",
		summary.requests, summary.duration, latency:percentile(50),
		latency:percentile(99), latency:percentile(99.9), latency.max,
		e.connect + e.read + e.write + e.status + e.timeout))
end
LUA

# client_started MARK: the client (cpid) printed MARK (a fixed string),
# or with MARK fds:N, holds more than N open files.  Its stdout is a
# file, hence buffered: sockperf flushes its log lines, wrk nothing.
client_started() {
	case $1 in
	fds:*)	[ "$(ls /proc/$cpid/fd 2> /dev/null | wc -l)" -gt "${1#fds:}" ];;
	*)	grep -qF "$1" /tmp/cli.out;;
	esac
}

# run_ext TAG SYSTEM PROTO MARK CLIENT-ARGS...: one server, one client
# from elsewhere, which runs its test for D + 2 or 3 s.  Once the client
# has started (client_started MARK: a dynamic program starts slowly in an
# emulated guest), the server measures D s from W s on (SIGUSR1,
# SIGUSR2); the client's CPU time over the same interval comes from /proc
# (its share: of the vCPUs over that time).  The client's own figures
# cover its whole test.  Prints "csv,cli,TAG,..." from the client's
# output (parse_ext), then the client's summary lines as "client: ...".
run_ext() {
	tag=$1 sys=$2 proto=$3 mark=$4
	shift 4
	if ! command -v "$1" > /dev/null; then
		echo "csv,skip,$tag,system=$sys,why=no $1 in the guest (scripts/install-deps.sh installs it)"
		return
	fi
	start_server "$tag" "$sys" 0 "$proto" || return
	"$@" > /tmp/cli.out 2>&1 &
	cpid=$!
	i=0
	while ! client_started "$mark"; do
		i=$((i + 1))
		if ! kill -0 $cpid 2> /dev/null || [ $i -gt 300 ]; then
			echo "error: $1 $tag did not start its test"
			break
		fi
		sleep 0.05
	done
	sleep $W	# sockperf: past its warm-up (400 ms)
	kill -USR1 $spid
	c0=$(proc_ticks $cpid) t0=$(uptime_s)
	sleep $D
	c1=$(proc_ticks $cpid) t1=$(uptime_s)
	kill -USR2 $spid
	wait $cpid
	crc=$?
	stop_server
	ct=-1
	[ -z "$c0" ] || [ -z "$c1" ] || ct=$((c1 - c0))
	parse_ext "$tag" "$1" $ct "$(echo "$t0 $t1 $NCPU" | awk '{print ($2 - $1) * $3}')" \
		< /tmp/cli.out
	# The client's own summary, for a reader of the log.
	grep -E 'Valid Duration|dropped messages|requests in|Socket errors|Non-2xx' \
		/tmp/cli.out | sed 's/^/client: /'
	[ $crc = 0 ] || { echo "error: $1 $tag exited with $crc"; tail -n 5 /tmp/cli.out; }
}

# parse_ext TAG CLIENT CLIENT-TICKS CPU-SECONDS < OUTPUT: the csv line.
parse_ext() {
	tr -d '\r' | awk -v tag="$1" -v cl="$2" -v ct="$3" -v at="$4" -v hz=100 '
	function val(s) { sub(/^[^=]*=/, "", s); sub(/[^0-9.].*$/, "", s); return s + 0 }
	{ gsub("\033\\[[0-9;]*m", "") }	# sockperf colours its summary
	/\[Valid Duration\]/ { for (i = 1; i <= NF; i++) {
			if ($i ~ /^RunTime=/) rt = val($i)
			if ($i ~ /^SentMessages=/) sent = val($i)
			if ($i ~ /^ReceivedMessages=/) rcvd = val($i) } }
	/avg-(rtt|latency)=/ { for (i = 1; i <= NF; i++) if ($i ~ /^avg-/) avg = val($i) }
	/percentile 50\.000 =/ { p50 = $NF }
	/percentile 99\.000 =/ { p99 = $NF }
	/percentile 99\.900 =/ { p999 = $NF }
	/<MAX> observation =/ { max = $NF }
	/dropped messages =/ { n = split($0, f, /[=;]/); drop = f[2] + 0 }
	/^wrkstat / { for (i = 2; i <= NF; i++) { split($i, f, "="); w[f[1]] = f[2] } }
	END {
		line = sprintf("csv,cli,%s,client=%s", tag, cl)
		if (cl == "sockperf") {
			if (!rt) { print "error: sockperf " tag ": no valid observations"; exit }
			line = line sprintf(",conns=1,len=64,rps=%.1f,replies_per_s=%.1f,avg_us=%.3f,p50_us=%s,p99_us=%s,p999_us=%s,max_us=%s,dropped=%d", \
				sent / rt, rcvd / rt, avg, p50, p99, p999, max, drop)
		} else {
			if (!w["duration_us"]) { print "error: wrk " tag ": no summary"; exit }
			line = line sprintf(",requests=%d,rps=%.1f,p50_us=%d,p99_us=%d,p999_us=%d,max_us=%d,errors=%d", \
				w["requests"], w["requests"] / (w["duration_us"] / 1e6), \
				w["p50"], w["p99"], w["p999"], w["max"], w["errors"])
		}
		if (ct >= 0 && at > 0)	# else the client ended too early
			line = line sprintf(",cli_cpu_s=%.3f,cli_share=%.3f", ct / hz, ct / hz / at)
		print line
	}'
}

while read -r kind a b c d e; do
	I=$((I + 1))
	echo "progress $I $TOTAL $kind $a $b $c $d $e"
	case $kind in
	floor)
		floor -d $FD;;
	closed)
		run_one "closed:$a:c$b:l$c:r$d" "$a" 0 -c "$b" -l "$c" -d $D -t 1
		if [ "$b" = 64 ] && [ "$c" = 64 ] && [ -n "$LAST_RPS" ]; then
			SAT=$(echo "$LAST_RPS $SAT" | awk '{print ($1 > $2) ? $1 : $2}')
		fi
		LAST_RPS=;;
	open)
		[ "$SAT" != 0 ] || SAT=5000
		rate=$(echo "$SAT $d" | awk '{printf "%d", $1 * $2}')
		run_one "open:$a:s$c:f$d" "$a" "$c" -c "$b" -l 64 -r "$rate" -d $D -t 1;;
	burst)
		run_one "burst:$a:k$b" "$a" 0 -c "$b" -l 64 -B 50 -d $D -t 1;;
	storm)
		run_one "storm:$a" "$a" 0 -A -l 64 -d $D -t 2;;
	# The client gets the port run_ext's start_server is about to take.
	sockperf)	# --full-rtt: round trips, not half of them
		if [ "$b" = pp ]; then
			run_ext "sockperf:$a:pp" "$a" sockperf "Warmup stage" \
				sockperf pp --tcp \
				-i 127.0.0.1 -p $((PORT + 1)) -m 64 -t $((D + 2)) --full-rtt
		else
			run_ext "sockperf:$a:ul" "$a" sockperf "Warmup stage" \
				sockperf ul --tcp \
				-i 127.0.0.1 -p $((PORT + 1)) -m 64 -t $((D + 2)) --full-rtt \
				--mps $SP_MPS --reply-every $SP_EVERY
		fi;;
	wrk)
		# wrk's clock starts before its connections: 1000 of them take
		# a while in an emulated guest
		run_ext "wrk:$a:c$b" "$a" http "fds:$b" wrk -t 1 -c "$b" -d $((D + 3))s \
			--timeout 5s -s /tmp/wrk-stats.lua http://127.0.0.1:$((PORT + 1))/;;
	trace)
		T=/sys/kernel/tracing
		mount -t tracefs nodev $T 2> /dev/null
		if [ ! -d $T/events/cport ]; then
			echo "error: no tracefs or no cport events"
			continue
		fi
		echo 8192 > $T/buffer_size_kb
		echo > $T/trace
		echo 1 > $T/events/cport/enable
		if [ "$a" = floor ]; then	# posts only: post-to-dequeue latency
			floor -d 0.5 cport-xcpu > /dev/null
		else
			rate=$(echo "$SAT" | awk '{r = int($1 / 50); print r < 20 ? 20 : r}')
			run_one "trace:$a:$b" "$a" 0 -c 8 -l 64 -r "$rate" -d 1.5 -t 1
		fi
		echo 0 > $T/events/cport/enable
		echo "=== trace $b begin"
		cat $T/trace
		echo "=== trace end";;
	esac
done < $PLAN
echo "suite done"
