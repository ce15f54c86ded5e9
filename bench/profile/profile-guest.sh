#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# In the guest (busybox sh), run by scripts/profile.sh:
#   profile-guest.sh FREQ CONNS LEN SECS PIN SYSTEM...
#
# For each SYSTEM (model[:policy:batch[:threads[:concurrency]]], as in
# bench/suite/suite.sh, threads defaulting to the server's): start
# the echo server, load it with loadgen (closed loop, CONNS connections,
# LEN-byte messages), and sample every CPU with perf (cpu-clock at FREQ Hz,
# call graphs) over the measured interval; FREQ 0: no perf, the figures
# without its cost; FREQ insn: a sync(2) at each end of the interval, the
# marks of QEMU's instruction counter (scripts/insn-profile.sh), and the
# module's symbols at the end.  Prints the server's and the
# client's csv lines, then perf's flat profile of the whole guest, by
# command and symbol, between "=== profile SYSTEM begin" and
# "=== profile end"; scripts/profile.sh turns them into per-request costs.
FREQ=$1 CONNS=$2 LEN=$3 SECS=$4 PIN=$5
shift 5
PORT=7100
mount -t debugfs nodev /sys/kernel/debug 2> /dev/null
echo -1 > /proc/sys/kernel/perf_event_paranoid
echo 0 > /proc/sys/kernel/kptr_restrict
# "NAME COUNT" lines: context switches, and each interrupt's count summed
# over the CPUs (/proc/interrupts).
counters()
{
	awk '$1 == "ctxt" { print "ctxt", $2 }' /proc/stat
	awk 'NR > 1 { n = 0; for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++)
		n += $i; sub(":", "", $1); print "irq_" $1, n }' /proc/interrupts
}

run=0
for sys in "$@"; do
	PORT=$((PORT + 1)) run=$((run + 1))
	case $sys in
	cport:* | cport-ms:* | cport-msr:*)
		# model:policy:batch[:threads[:concurrency]]
		p=${sys#*:}; b=${p#*:}; p=${p%%:*}
		t=; case $b in *:*) t=${b#*:}; b=${b%%:*};; esac
		c=; case $t in *:*) c="-C ${t#*:}"; t=${t%%:*};; esac
		[ -z "$t" ] || t="-t $t"
		args="-m ${sys%%:*} -P $p -b $b $t $c";;
	*)	args="-m $sys";;
	esac
	rm -f /tmp/srv.out
	: > /tmp/srv.out
	# PIN=1 (the 5th argument): the server on CPU 1, the client on CPU 0,
	# as if they were two machines (every model alike).
	srv_pin= cli_pin=
	[ "$PIN" = 1 ] && srv_pin="taskset -c 1" cli_pin="taskset -c 0"
	$srv_pin server $args -p $PORT -T "prof:$sys" > /tmp/srv.out 2>&1 &
	spid=$!
	i=0
	while ! grep -q '^server: .*ready' /tmp/srv.out; do
		i=$((i + 1))
		[ $i -lt 100 ] && kill -0 $spid 2> /dev/null || break
		sleep 0.1
	done
	# The warm-up is not sampled: perf starts after it, for SECS.
	$cli_pin loadgen -a 127.0.0.1:$PORT -c "$CONNS" -l "$LEN" -d $((SECS + 2)) \
		-w 1 -t 1 -S $spid -T "prof:$sys" > /tmp/cli.out 2>&1 &
	lpid=$!
	sleep 1.2
	# The host reads QEMU's "info jit" at each such mark (TCG only).
	echo "=== jit $run:begin"
	sleep 0.3
	counters > /tmp/before
	if [ "$FREQ" = insn ]; then
		# scripts/insn-profile.sh: QEMU's instruction counter writes
		# its counts at each sync(2), the interval's at the second.
		sync
		sleep "$SECS"
		sync
	elif [ "$FREQ" = 0 ]; then
		sleep "$SECS"
	else
		perf record -a -g -F "$FREQ" -o /tmp/perf.data -- sleep "$SECS" \
			> /tmp/perf.out 2>&1 || cat /tmp/perf.out
	fi
	counters > /tmp/after
	echo "=== jit $run:end"
	# What follows until the next "run" line is this run's.
	echo "run $run $sys secs=$SECS"
	# What the interval cost the guest besides CPU: context switches,
	# interrupts by kind (both vCPUs), as "counter NAME DELTA".
	awk -v sys="$sys" 'NR == FNR { b[$1] = $2; next }
		{ printf "counter %s %s %d\n", sys, $1, $2 - b[$1] }' \
		/tmp/before /tmp/after
	wait $lpid
	sleep 0.3
	kill -TERM $spid 2> /dev/null
	wait $spid
	grep -v '^server: .*ready' /tmp/srv.out
	cat /tmp/cli.out
	case $FREQ in 0 | insn) continue;; esac
	echo "=== profile $sys begin"
	echo "samples_seconds $SECS $FREQ"
	perf report -i /tmp/perf.data --stdio --no-children --sort comm \
		-g none 2> /dev/null | grep -v '^$' | sed 's/^/comm /'
	perf report -i /tmp/perf.data --stdio --no-children --sort comm,dso,sym \
		-g none --percent-limit 0.05 2> /dev/null | grep -v '^$'
	echo "=== callers $sys"
	perf report -i /tmp/perf.data --stdio --children --sort sym \
		-g none --percent-limit 2 2> /dev/null | grep -v '^$' | head -80
	echo "=== callers-by-comm $sys"
	perf report -i /tmp/perf.data --stdio --children --sort comm,sym \
		-g none --percent-limit 1 2> /dev/null | grep -v '^$' | head -200
	echo "=== profile end"
	rm -f /tmp/perf.data
done
# The module's symbols, for the instruction counts (no KASLR there).
[ "$FREQ" != insn ] || grep '\[cport\]' /proc/kallsyms | sed 's/^/ksym /'
echo "profile done"
