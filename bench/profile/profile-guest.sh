#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# In the guest (busybox sh), run by scripts/profile.sh:
#   profile-guest.sh FREQ CONNS LEN SECS SYSTEM...
#
# For each SYSTEM (model[:policy:batch], as in bench/suite/suite.sh): start
# the echo server, load it with loadgen (closed loop, CONNS connections,
# LEN-byte messages), and sample every CPU with perf (cpu-clock at FREQ Hz,
# call graphs) over the measured interval; FREQ 0: no perf, the figures
# without its cost.  Prints the server's and the
# client's csv lines, then perf's flat profile of the whole guest, by
# command and symbol, between "=== profile SYSTEM begin" and
# "=== profile end"; scripts/profile.sh turns them into per-request costs.
FREQ=$1 CONNS=$2 LEN=$3 SECS=$4
shift 4
PORT=7100
mount -t debugfs nodev /sys/kernel/debug 2> /dev/null
echo -1 > /proc/sys/kernel/perf_event_paranoid
echo 0 > /proc/sys/kernel/kptr_restrict
for sys in "$@"; do
	PORT=$((PORT + 1))
	case $sys in
	cport:* | cport-ms:* | cport-msr:*)
		p=${sys#*:}; b=${p#*:}; p=${p%%:*}
		args="-m ${sys%%:*} -P $p -b $b";;
	*)	args="-m $sys";;
	esac
	rm -f /tmp/srv.out
	: > /tmp/srv.out
	server $args -p $PORT -T "prof:$sys" > /tmp/srv.out 2>&1 &
	spid=$!
	i=0
	while ! grep -q '^server: .*ready' /tmp/srv.out; do
		i=$((i + 1))
		[ $i -lt 100 ] && kill -0 $spid 2> /dev/null || break
		sleep 0.1
	done
	# The warm-up is not sampled: perf starts after it, for SECS.
	loadgen -a 127.0.0.1:$PORT -c "$CONNS" -l "$LEN" -d $((SECS + 2)) \
		-w 1 -t 1 -S $spid -T "prof:$sys" > /tmp/cli.out 2>&1 &
	lpid=$!
	sleep 1.5
	if [ "$FREQ" = 0 ]; then
		sleep "$SECS"
	else
		perf record -a -g -F "$FREQ" -o /tmp/perf.data -- sleep "$SECS" \
			> /tmp/perf.out 2>&1 || cat /tmp/perf.out
	fi
	wait $lpid
	sleep 0.3
	kill -TERM $spid 2> /dev/null
	wait $spid
	grep -v '^server: .*ready' /tmp/srv.out
	cat /tmp/cli.out
	[ "$FREQ" != 0 ] || continue
	echo "=== profile $sys begin"
	echo "samples_seconds $SECS $FREQ"
	perf report -i /tmp/perf.data --stdio --no-children --sort comm \
		-g none 2> /dev/null | grep -v '^$' | sed 's/^/comm /'
	perf report -i /tmp/perf.data --stdio --no-children --sort comm,dso,sym \
		-g none --percent-limit 0.05 2> /dev/null | grep -v '^$'
	echo "=== callers $sys"
	perf report -i /tmp/perf.data --stdio --children --sort sym \
		-g none --percent-limit 2 2> /dev/null | grep -v '^$' | head -80
	echo "=== profile end"
	rm -f /tmp/perf.data
done
echo "profile done"
