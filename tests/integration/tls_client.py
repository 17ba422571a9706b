#!/usr/bin/env python3
"""TLS client for yinetd's integration tests, on Python's ssl module.

Connects to 127.0.0.1:PORT, does the handshake, sends the bytes of --send
(a file) while it reads, then closes its sending side (with close_notify,
or with a bare TCP half-close under --bare-eof) and reads until the server
closes. Writes what it received to --out, and one JSON line to stdout: the
handshake's facts, or {"error": ...} when it failed. Every wait is bounded
by --timeout.
"""
import argparse
import json
import select
import socket
import ssl
import sys
import time


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--ca", required=True)
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--sni", default="localhost")
    p.add_argument("--alpn", default="")
    p.add_argument("--max-version", choices=["1.2", "1.3"])
    p.add_argument("--send")
    p.add_argument("--out")
    p.add_argument("--bare-eof", action="store_true")
    p.add_argument("--hold", type=float, default=0.0,
                   help="seconds to wait after the handshake before sending")
    p.add_argument("--session-in")
    p.add_argument("--connections", type=int, default=1,
                   help="connect this many times in a row, resuming the first session")
    p.add_argument("--timeout", type=float, default=30.0)
    p.add_argument("--proxy-v1", default="",
                   help="a PROXY v1 line (without CRLF) sent before the handshake, as a balancer would")
    return p.parse_args()


class Conn:
    def __init__(self, args, ctx, session=None):
        self.deadline = time.monotonic() + args.timeout
        self.sock = socket.create_connection(("127.0.0.1", args.port), timeout=args.timeout)
        if args.proxy_v1:
            self.sock.sendall(args.proxy_v1.encode() + b"\r\n")
        self.sock.setblocking(False)
        self.inc, self.out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.obj = ctx.wrap_bio(self.inc, self.out, server_hostname=args.sni, session=session)
        self.peer_eof = False

    def left(self):
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("timed out")
        return left

    def flush(self):
        data = self.out.read()
        while data:
            select.select([], [self.sock], [], self.left())
            try:
                n = self.sock.send(data)
                data = data[n:]
            except BlockingIOError:
                pass

    def pull(self):
        """Reads what the socket has into the TLS object; False at EOF."""
        select.select([self.sock], [], [], self.left())
        try:
            data = self.sock.recv(65536)
        except BlockingIOError:
            return True
        except ConnectionResetError:
            data = b""
        if not data:
            self.inc.write_eof()
            self.peer_eof = True
            return False
        self.inc.write(data)
        return True

    def handshake(self):
        while True:
            try:
                self.obj.do_handshake()
                self.flush()
                return
            except ssl.SSLWantReadError:
                self.flush()
                if not self.pull():
                    # Let the TLS object tell what the EOF means.
                    self.obj.do_handshake()
                    raise ConnectionError("server closed during the handshake")

    def drain(self, received):
        """Reads what the TLS object has; the server's ending, or None."""
        while True:
            try:
                data = self.obj.read(65536)
            except ssl.SSLWantReadError:
                return None
            except ssl.SSLZeroReturnError:
                return "close_notify"
            except ssl.SSLError:
                if not self.peer_eof:
                    raise
                return "eof"
            if not data:
                return "close_notify"
            received += data

    def exchange(self, payload, bare_eof):
        """Sends `payload` and then closes (when there is one), reading all
        along; returns what came and how the server ended: close_notify or
        eof. Goes on sending after the server's close_notify (TLS 1.3
        half-close)."""
        received = bytearray()
        sent = 0
        closed = not payload  # nothing to send: leave the ending to the server
        ending = None
        while True:
            if sent < len(payload):
                chunk = payload[sent:sent + 16384]
                self.obj.write(chunk)
                sent += len(chunk)
                self.flush()
            elif not closed:
                closed = True
                if bare_eof:
                    self.sock.shutdown(socket.SHUT_WR)
                else:
                    # Python's unwrap calls SSL_shutdown twice, and the second
                    # call fails on application data already buffered: read
                    # all that first (nothing new arrives until we pull).
                    if ending is None:
                        ending = self.drain(received)
                    try:
                        self.obj.unwrap()  # sends close_notify
                    except ssl.SSLWantReadError:
                        pass
                    self.flush()
            if ending is None:
                ending = self.drain(received)
            if ending is None and self.peer_eof:
                ending = "eof"
            if ending is not None and closed:
                return bytes(received), ending
            if ending is None:
                # Wait for the server only once our side is all sent and
                # closed: the server may owe nothing until it sees our end
                # (a program that answers at EOF), and its session tickets
                # may have come and gone before the last chunk.
                idle = sent == len(payload) and closed
                r, _, _ = select.select([self.sock], [], [], self.left() if idle else 0)
                if r:
                    self.pull()


def main():
    args = parse_args()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(args.ca)
    if args.cert:
        ctx.load_cert_chain(args.cert, args.key)
    if args.max_version:
        ctx.maximum_version = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}[args.max_version]
    if args.alpn:
        ctx.set_alpn_protocols(args.alpn.split(","))
    payload = b""
    if args.send:
        with open(args.send, "rb") as f:
            payload = f.read()
    result = {}
    session = None
    resumed = []
    try:
        for _ in range(args.connections):
            conn = Conn(args, ctx, session)
            conn.handshake()
            result = {
                "version": conn.obj.version(),
                "alpn": conn.obj.selected_alpn_protocol(),
                "server_cn": dict(x[0] for x in conn.obj.getpeercert()["subject"]).get("commonName"),
            }
            resumed.append(conn.obj.session_reused)
            if args.hold:
                time.sleep(args.hold)
            received, ending = conn.exchange(payload, args.bare_eof)
            session = conn.obj.session
            result["ending"] = ending
            result["received"] = len(received)
            conn.sock.close()
        result["resumed"] = resumed
        if args.out:
            with open(args.out, "wb") as f:
                f.write(received)
    except (ssl.SSLError, OSError, ConnectionError, TimeoutError, ValueError) as e:
        result = {"error": type(e).__name__ + ": " + str(e)}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
