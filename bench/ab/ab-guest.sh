#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# In the guest (busybox sh), run by scripts/bench-ab.sh:
#   ab-guest.sh REPS CONNS LEN SECS MODULES SYSTEMS [pin]
# MODULES and SYSTEMS are comma-separated: module files (the first one is
# loaded already) and server models (model[:policy:batch[:threads]]).
# With pin, the server runs on CPU 0 and loadgen on CPU 1 (each process
# then shares its CPU only with itself and the kernel's threads).
# For each repetition, each module in turn is loaded (rmmod, insmod) and
# each system run once under loadgen's closed loop; the order of the
# modules alternates between repetitions so that drift of the host does
# not favour one.
REPS=$1 CONNS=$2 LEN=$3 SECS=$4 MODULES=$(echo "$5" | tr , ' ') SYSTEMS=$(echo "$6" | tr , ' ')
PORT=7400
SRV_CPU='' CLI_CPU=''
[ "${7:-}" = pin ] && SRV_CPU="taskset 1" CLI_CPU="taskset 2"
REV=
for m in $MODULES; do REV="$m $REV"; done
# TCP's own counters, for the run's line: delayed ACKs sent by the timer,
# segments out, segments retransmitted.
tcp_counts() {
	cat /proc/net/netstat /proc/net/snmp | awk '
		$1 == "TcpExt:" || $1 == "Tcp:" {
			if (hdr[$1] == "") { hdr[$1] = $0; next }
			n = split(hdr[$1], k); split($0, v)
			for (i = 2; i <= n; i++) c[k[i]] = v[i]
			hdr[$1] = ""
		}
		END { print c["DelayedACKs"], c["OutSegs"], c["RetransSegs"] }'
}
rep=0
while [ $rep -lt "$REPS" ]; do
	rep=$((rep + 1))
	order=$MODULES
	[ $((rep % 2)) = 0 ] && order=$REV
	for m in $order; do
		# With one CPU online: see one_cpu() in run-guest.sh.
		for c in /sys/devices/system/cpu/cpu[1-9]*/online; do
			echo 0 > "$c"
		done
		rmmod cport 2> /dev/null
		insmod "$m" || echo "error: insmod $m"
		for c in /sys/devices/system/cpu/cpu[1-9]*/online; do
			echo 1 > "$c"
		done
		[ -e /sys/module/cport ] || continue
		name=$(basename "$m" .ko)
		for sys in $SYSTEMS; do
			PORT=$((PORT + 1))
			case $sys in
			cport:* | cport-ms:* | cport-msr:*)
				# model:policy:batch[:threads]
				p=${sys#*:}; b=${p#*:}; p=${p%%:*}
				t=; case $b in *:*) t="-t ${b#*:}"; b=${b%%:*};; esac
				args="-m ${sys%%:*} -P $p -b $b $t";;
			*)	args="-m $sys";;
			esac
			tag="$name:$sys:r$rep"
			# Progress, in the log as it happens (tail -f it).
			echo "ab: run $tag"
			rm -f /tmp/srv.out
			: > /tmp/srv.out
			# shellcheck disable=SC2086	# empty, or taskset and its mask
			$SRV_CPU server $args -p $PORT -T "$tag" > /tmp/srv.out 2>&1 &
			spid=$!
			i=0
			while ! grep -q '^server: .*ready' /tmp/srv.out; do
				i=$((i + 1))
				[ $i -lt 100 ] && kill -0 $spid 2> /dev/null || break
				sleep 0.1
			done
			if ! grep -q '^server: .*ready' /tmp/srv.out; then
				# Exited (3: a policy this module lacks), or hung.
				kill -KILL $spid 2> /dev/null
				wait $spid
				st=$?
				if [ $st = 3 ]; then
					grep '^csv,skip' /tmp/srv.out
				else
					echo "error: server $tag did not start (exit $st)"
					cat /tmp/srv.out
				fi
				continue
			fi
			# Neither side may hang the boot: a watchdog for each.
			# busybox timeout: 143 or 137 is its watchdog.
			# shellcheck disable=SC2046	# three numbers
			set -- $(tcp_counts)
			# shellcheck disable=SC2086	# empty, or taskset and its mask
			timeout -k 10 $((SECS + 60)) $CLI_CPU loadgen -a 127.0.0.1:$PORT \
				-c "$CONNS" -l "$LEN" -d "$SECS" -w 0.5 -t 1 \
				-S $spid -T "$tag" > /tmp/cli.out 2>&1 ||
				echo "error: loadgen $tag exited with $? (143, 137: timed out)"
			echo "csv,tcp,$tag,$(tcp_counts | { read -r d o r
				echo "delayed_acks=$((d - $1)),out_segs=$((o - $2)),retrans=$((r - $3))"; })"
			sleep 0.2
			kill -TERM $spid 2> /dev/null
			(sleep 10; kill -KILL $spid 2> /dev/null) &
			kpid=$!
			wait $spid
			st=$?
			kill $kpid 2> /dev/null
			[ $st = 0 ] ||
				echo "error: server $tag exited with $st (137: killed after 10 s)"
			grep '^csv' /tmp/srv.out
			cat /tmp/cli.out
		done
	done
done
echo "ab done"
