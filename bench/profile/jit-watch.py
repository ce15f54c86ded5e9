#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Ask QEMU's monitor "info jit" at the guest's marks.

    jit-watch.py MONITOR_SOCKET GUEST_LOG OUT

Follows GUEST_LOG (the guest's ttyS1, written as the guest runs) and, for
each line "=== jit NAME", asks the monitor on MONITOR_SOCKET for "info jit"
and appends to OUT a line "jit NAME FIELD VALUE" per counter of TCG's
statistics (TB flushes and invalidations, TLB full, partial and elided
flushes: QEMU's counters summed over the vCPUs), and "jit NAME time T", the
host's monotonic time of the answer: the interval between two marks is the
difference of their times, not the guest's (the answer comes some
milliseconds after the mark, and the load goes on meanwhile).  A failed
question is reported and skipped.  Ends when the log has "=== done" or
after an hour.  Under KVM "info jit" has nothing to say: only times.
"""
import re
import socket
import sys
import time


def ask(path, cmd):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.settimeout(5)
    buf = b""

    def until_prompt():
        nonlocal buf
        while not buf.rstrip().endswith(b"(qemu)"):
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk

    until_prompt()
    buf = b""
    s.sendall(cmd.encode() + b"\n")
    until_prompt()
    s.close()
    return buf.decode(errors="replace")


def main():
    sock, log, out = sys.argv[1:4]
    pos = 0
    pending = ""
    deadline = time.time() + 3600
    while time.time() < deadline:
        try:
            with open(log, errors="replace") as f:
                f.seek(0, 2)
                if f.tell() < pos:	# truncated: a new guest
                    pos = 0
                    pending = ""
                f.seek(pos)
                data = f.read()
                pos = f.tell()
        except FileNotFoundError:
            data = ""
        pending += data
        lines = pending.split("\n")
        pending = lines.pop()
        for line in lines:
            m = re.match(r"=== jit (\S+)", line.strip())
            if m:
                try:
                    text = ask(sock, "info jit")
                except OSError as e:
                    print("jit-watch: %s: %s" % (m.group(1), e),
                          file=sys.stderr)
                    continue
                with open(out, "a") as o:
                    o.write("jit %s time %.6f\n" % (m.group(1),
                                                    time.monotonic()))
                    for field in re.finditer(
                            r"^(TB flush count|TB invalidate count|"
                            r"TLB full flushes|TLB partial flushes|"
                            r"TLB elided flushes|TB count)\s+(\d+)",
                            text, re.M):
                        o.write("jit %s %s %s\n" % (
                            m.group(1), field.group(1).replace(" ", "_"),
                            field.group(2)))
            if line.startswith("=== done"):
                return
        time.sleep(0.05)


if __name__ == "__main__":
    main()
