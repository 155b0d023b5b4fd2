#!/usr/bin/env python3
"""A user-space ICMP echo responder that answers after a fixed delay per address.

Run inside a network namespace whose kernel does not answer echo requests itself
(net.ipv4.icmp_echo_ignore_all=1), for load-tests/rtt-accuracy.ts:

    python3 delay-responder.py --duration 60 10.201.0.2=5 10.201.0.3=20

Each ADDRESS=MS gets a raw ICMP socket bound to ADDRESS (a bound raw socket receives
only what is sent to that address, and its replies leave from it). A request's reply
is sent MS milliseconds after the kernel received the request (its SO_TIMESTAMPNS
stamp), by a sender thread that sleeps until then (clock_nanosleep underneath, so
the delay is exact to the scheduler's wake-up latency, not to a 1 ms timer tick).
Whatever the wake-up latency adds is common to every prober on the same path: ping
and fleetprobe see the same responder.

Starts silent: SIGUSR1 turns answering on and SIGUSR2 off again (requests meanwhile
are dropped), so a measurement window holds exactly the replies logged (--log: one line
per reply with the request's kernel receive time and the reply's send time; the
difference is the hold, which the harness subtracts per prober).

Bounded: exits after --duration seconds. Standard library only.
"""
import argparse
import queue
import signal
import socket
import struct
import sys
import threading
import time

SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
SCM_TIMESTAMPNS = SO_TIMESTAMPNS
log_lock = threading.Lock()
# SIGUSR1 starts answering, SIGUSR2 stops (requests meanwhile are dropped), so the
# replies a prober counts are exactly the replies logged inside the window.
answering = threading.Event()


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def serve(address: str, delay_s: float, deadline: float, counts: dict, log) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    sock.bind((address, 0))
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    sock.settimeout(0.5)
    out: "queue.Queue[tuple[float, bytes, str]]" = queue.Queue()

    def sender() -> None:
        while time.time() < deadline:
            try:
                due, reply, dest, rx = out.get(timeout=0.5)
            except queue.Empty:
                continue
            wait = due - time.time()
            if wait > 0:
                time.sleep(wait)
            try:
                sent = time.time()
                sock.sendto(reply, (dest, 0))
                counts[address] += 1
                if log is not None:
                    ident, seq = struct.unpack_from("!HH", reply, 4)
                    with log_lock:
                        log.write(f"{address} {ident} {seq} {rx:.9f} {sent:.9f}\n")
            except OSError:
                pass

    threading.Thread(target=sender, daemon=True).start()
    while time.time() < deadline:
        try:
            data, anc, _flags, src = sock.recvmsg(65535, socket.CMSG_SPACE(16))
        except socket.timeout:
            continue
        rx = None
        for level, kind, payload in anc:
            if level == socket.SOL_SOCKET and kind == SCM_TIMESTAMPNS and len(payload) >= 16:
                sec, nsec = struct.unpack("qq", payload[:16])
                rx = sec + nsec / 1e9
        if rx is None:
            rx = time.time()
        ihl = (data[0] & 0x0F) * 4
        icmp = data[ihl:]
        if len(icmp) < 8 or icmp[0] != 8 or icmp[1] != 0 or not answering.is_set():
            continue
        body = icmp[4:]
        reply = bytearray(b"\0\0\0\0" + body)
        struct.pack_into("!H", reply, 2, checksum(bytes(reply)))
        out.put((rx + delay_s, bytes(reply), src[0], rx))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=float, required=True)
    ap.add_argument("--answering", action="store_true", help="answer from the start (default: wait for SIGUSR1)")
    ap.add_argument("--log", help="append one line per reply: address identifier sequence rx_time sent_time (Unix s)")
    ap.add_argument("pairs", nargs="+", help="ADDRESS=DELAY_MS")
    args = ap.parse_args()
    deadline = time.time() + min(args.duration, 3600)
    counts: dict = {}
    log = open(args.log, "w", buffering=1 << 16) if args.log else None

    def flush_log() -> None:
        if log is not None:
            with log_lock:
                log.flush()

    def stop_answering(*_) -> None:
        answering.clear()
        flush_log()

    def terminate(*_) -> None:
        flush_log()
        sys.exit(0)

    signal.signal(signal.SIGUSR1, lambda *_: answering.set())
    signal.signal(signal.SIGUSR2, stop_answering)
    signal.signal(signal.SIGTERM, terminate)
    if args.answering:
        answering.set()
    threads = []
    for pair in args.pairs:
        address, ms = pair.split("=")
        counts[address] = 0
        t = threading.Thread(target=serve, args=(address, float(ms) / 1000, deadline, counts, log), daemon=True)
        t.start()
        threads.append(t)
    print("ready", flush=True)
    while any(t.is_alive() for t in threads):
        time.sleep(0.2)  # the main thread must stay free to run the signal handlers
    if log is not None:
        log.close()
    print("replies " + " ".join(f"{a}={n}" for a, n in counts.items()), flush=True)


if __name__ == "__main__":
    sys.exit(main())
