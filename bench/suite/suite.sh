#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The benchmark suite, run inside the guest (busybox sh) by scripts/bench.sh:
#   suite.sh quick|full
#
# Plans every run, then runs them in order; prints "progress I N WHAT"
# before each, the programs' "csv,..." lines, and the cport traces between
# "=== trace NAME begin" and "=== trace end".  server, loadgen and floor
# are on PATH.
MODE=${1:-quick}
NCPU=$(nproc)
if [ "$MODE" = full ]; then
	D=3 W=0.5 FD=2
	CONNS="1 8 64 256 1000" LENS="64 512 4096"
	RATES="0.02 0.1 0.3 0.6 0.9" SERVICES="0 10 bimodal"
	OPEN_SYS="epoll-rp epoll-shared uring cport:lifo:1 cport:lifo:16 cport:fifo:1 cport:rr:1 cport:cpu:1"
else
	D=2 W=0.5 FD=1
	CONNS="1 64 256" LENS="64"
	RATES="0.02 0.1 0.5 0.8" SERVICES="0"
	OPEN_SYS="epoll-rp uring cport:lifo:1 cport:fifo:1"
fi
# model[:policy:batch]: the policy by the name the port's fdinfo prints
# (lifo, fifo, rr, cpu), the batch in completions per wait
SYSTEMS="epoll-rp epoll-shared uring cport:lifo:1 cport:lifo:16 cport:fifo:1 cport:fifo:16 cport:rr:1 cport:rr:16 cport:cpu:1 cport:cpu:16"
BURST_SYS="epoll-shared uring cport:lifo:1 cport:lifo:16 cport:fifo:1 cport:rr:1 cport:cpu:1"

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
TOTAL=$(wc -l < $PLAN)
echo "plan $MODE $TOTAL runs, duration ${D}s each, $NCPU vCPUs"

SKIPPED=" "
SAT=0		# best closed-loop requests/s at 64 connections, 64 bytes
I=0
PORT=7000

# server_args SYSTEM: the server's options for model[:policy:batch]
server_args() {
	case $1 in
	cport:*)
		p=${1#cport:}; b=${p#*:}; p=${p%%:*}
		echo "-m cport -P $p -b $b";;
	*)	echo "-m $1";;
	esac
}

# run_one TAG SYSTEM SERVICE LOADGEN-ARGS...: one server, one client.
run_one() {
	tag=$1 sys=$2 svc=$3
	shift 3
	case $SKIPPED in *" $sys "*)
		echo "csv,skip,$tag,system=$sys,why=policy not supported by this module"
		return;;
	esac
	PORT=$((PORT + 1))
	# A fresh file, before the server starts: the ready check must not
	# see the previous run's line.
	rm -f /tmp/srv.out
	: > /tmp/srv.out
	server $(server_args "$sys") -s "$svc" -p $PORT -T "$tag" > /tmp/srv.out 2>&1 &
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
		return
	fi
	loadgen -a 127.0.0.1:$PORT -w $W -S $spid -T "$tag" "$@" > /tmp/cli.out 2>&1
	crc=$?
	sleep 0.3
	kill -TERM $spid 2> /dev/null
	wait $spid
	grep -v '^server: .*ready' /tmp/srv.out
	cat /tmp/cli.out
	[ $crc = 0 ] || echo "error: loadgen $tag exited with $crc"
	LAST_RPS=$(sed -n 's/.*,rps=\([0-9.]*\),.*/\1/p' /tmp/cli.out)
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
