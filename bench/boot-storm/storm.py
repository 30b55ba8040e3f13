#!/usr/bin/env python3
"""N simulated iPXE nodes booting at once from one server (TFTP + HTTP), as the example fleet's nodes do.

Each node, from its own loopback source address (127.1.X.Y):
  1. TFTP RRQ boot.ipxe (blksize 1428, tsize), lockstep with ACKs, resending its last packet after 1 s;
  2. HTTP GET ipxe/<its MAC, hyphenated>, and ipxe/default on a 404, as boot.ipxe says;
  3. HTTP GET the kernel and every initrd the script names (paths relative to ipxe/);
  4. HTTP POST /report with the report the script's overlay.role= and overlay.expect= call for.
Node i starts at i/N seconds, so all start within one second. A connection per request (Connection: close).

Prints one JSON object: nodes, completed, failures (by reason), wall seconds from the first start to the last
node's last byte, and the p50/p99 time to last byte per node. Standard library only.
"""
import argparse
import asyncio
import json
import os
import socket
import struct
import subprocess
import sys
import time

BLKSIZE = 1428
TFTP_TIMEOUT = 1.0
TFTP_TRIES = 5
RESENDS = [0]  # TFTP packets this process resent after a timeout


class Failure(Exception):
    pass


def source_address(i):
    return f"127.1.{i // 250}.{i % 250 + 1}"


def mac_of(i):
    # Node 0 and 1 are the two MACs the example fleet lists; the rest fall to the default role.
    n = 0x3456 + i
    return f"52:54:00:{(n >> 16) & 255:02x}:{(n >> 8) & 255:02x}:{n & 255:02x}"


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self):
        self.queue = asyncio.Queue()

    def datagram_received(self, data, addr):
        self.queue.put_nowait((data, addr))

    def error_received(self, exc):
        self.queue.put_nowait((None, exc))


async def tftp_get(src, server, name):
    """RFC 1350 read with RFC 2348/2349 options; returns the file's bytes, checked against tsize."""
    loop = asyncio.get_running_loop()
    transport, proto = await loop.create_datagram_endpoint(_Datagrams, local_addr=(src, 0))
    try:
        packet = struct.pack("!H", 1) + name.encode() + b"\0octet\0blksize\0" + str(BLKSIZE).encode() + b"\0tsize\0" + b"0\0"
        dest, peer = server, None
        blksize, tsize, expect, data, tries = 512, None, 1, bytearray(), 0
        transport.sendto(packet, dest)
        while True:
            try:
                msg, addr = await asyncio.wait_for(proto.queue.get(), TFTP_TIMEOUT)
            except TimeoutError:
                tries += 1
                if tries >= TFTP_TRIES:
                    raise Failure("tftp: no answer after 5 tries")
                RESENDS[0] += 1
                transport.sendto(packet, dest)
                continue
            if msg is None:
                raise Failure(f"tftp: {addr}")
            if peer is None:
                peer = addr
            elif addr != peer:
                continue
            op = struct.unpack("!H", msg[:2])[0]
            if op == 6 and expect == 1 and not data:  # OACK
                fields = msg[2:].split(b"\0")
                options = {fields[k].decode().lower(): fields[k + 1].decode() for k in range(0, len(fields) - 1, 2)}
                blksize = int(options.get("blksize", 512))
                tsize = int(options["tsize"]) if "tsize" in options else None
                packet, dest, tries = struct.pack("!HH", 4, 0), peer, 0
                transport.sendto(packet, dest)
            elif op == 3:
                block = struct.unpack("!H", msg[2:4])[0]
                if block == expect & 0xFFFF:
                    payload = msg[4:]
                    data += payload
                    packet, dest, tries = struct.pack("!HH", 4, block), peer, 0
                    transport.sendto(packet, dest)
                    expect += 1
                    if len(payload) < blksize:
                        break
                elif block == (expect - 1) & 0xFFFF:
                    transport.sendto(packet, dest)
            elif op == 5:
                raise Failure("tftp: error " + msg[4:].rstrip(b"\0").decode(errors="replace"))
        if tsize is not None and len(data) != tsize:
            raise Failure(f"tftp: {len(data)} bytes, tsize said {tsize}")
        return bytes(data)
    finally:
        transport.close()


_bulk = bytearray(1 << 20)  # bodies only counted land here; their bytes are never read
_bulk_view = memoryview(_bulk)


async def http(src, server, method, path, body=b"", keep=False, size=None, ok404=False):
    """One request on its own connection; returns (status, body or None). Counts every byte of the body."""
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        sock.bind((src, 0))
        await loop.sock_connect(sock, server)
        head = f"{method} /{path} HTTP/1.1\r\nHost: {server[0]}:{server[1]}\r\nUser-Agent: iPXE/1.21.1\r\nConnection: close\r\n"
        if method == "POST":
            head += f"Content-Type: text/plain\r\nContent-Length: {len(body)}\r\n"
        await loop.sock_sendall(sock, head.encode() + b"\r\n" + body)
        first = bytearray(65536)
        got_head = bytearray()
        while True:
            n = await loop.sock_recv_into(sock, first)
            if n == 0:
                raise Failure(f"http {path}: closed before the headers")
            got_head += first[:n]
            end = got_head.find(b"\r\n\r\n")
            if end >= 0:
                break
            if len(got_head) > 65536:
                raise Failure(f"http {path}: headers too long")
        lines = bytes(got_head[:end]).decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        length = None
        for line in lines[1:]:
            key, _, value = line.partition(":")
            if key.strip().lower() == "content-length":
                length = int(value.strip())
        kept = bytearray(got_head[end + 4:]) if keep else None
        count = len(got_head) - end - 4
        while length is None or count < length:
            n = await loop.sock_recv_into(sock, _bulk_view if not keep else first)
            if n == 0:
                break
            count += n
            if keep:
                kept += first[:n]
        if status == 404 and ok404:
            return status, None
        if not 200 <= status < 300:
            raise Failure(f"http {method} {path.split('/')[0]}: status {status}")
        if length is not None and count != length:
            raise Failure(f"http {path}: {count} bytes, Content-Length said {length}")
        if size is not None and count != size:
            raise Failure(f"http {path}: {count} bytes, the file has {size}")
        return status, (bytes(kept) if keep else None)
    finally:
        sock.close()


def parse_script(text):
    """The kernel, the initrds (paths relative to ipxe/) and the role and plugins the script names."""
    files, role, expect = [], None, []
    for line in text.splitlines():
        words = line.split()
        if not words:
            continue
        if words[0] == "kernel":
            files.append(words[1])
            for word in words[2:]:
                if word.startswith("overlay.role="):
                    role = word.split("=", 1)[1]
                elif word.startswith("overlay.expect="):
                    expect = [p.split("@") for p in word.split("=", 1)[1].split(",") if p]
        elif words[0] == "initrd":
            files.append(words[-1])
    if not files:
        raise Failure("ipxe script names no kernel")
    return [os.path.normpath(os.path.join("ipxe", f)) for f in files], role, expect


async def node(i, args, sizes):
    src, mac = source_address(i), mac_of(i)
    http_server, tftp_server = args.http, args.tftp
    script = (await tftp_get(src, tftp_server, "boot.ipxe")).decode()
    if "ipxe/${netX/mac:hexhyp}" not in script:
        raise Failure("boot.ipxe does not chain ipxe/<mac>")
    status, body = await http(src, http_server, "GET", "ipxe/" + mac.replace(":", "-"), keep=True, ok404=True)
    if status == 404:
        status, body = await http(src, http_server, "GET", "ipxe/default", keep=True)
    files, role, expect = parse_script(body.decode())
    for path in files:
        await http(src, http_server, "GET", path, size=sizes.get(path))
    report = f"NODE {mac}\nROLE {role or 'compute'}\n"
    report += "".join(f"PLUGIN {name} {version}\n" for name, version in sorted(expect))
    report += "OVERLAY-NODE READY\n"
    await http(src, http_server, "POST", "report", body=report.encode())


async def run_nodes(indices, n, t0, args, sizes):
    results = []

    async def one(i):
        delay = t0 + i / n - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        start = time.monotonic()
        error = None
        try:
            await asyncio.wait_for(node(i, args, sizes), args.timeout)
        except Failure as e:
            error = str(e)
        except TimeoutError:
            error = f"no finish within {args.timeout:g} s"
        except OSError as e:
            error = f"{type(e).__name__}: {e.strerror or e}"
        results.append({"i": i, "start": start, "end": time.monotonic(), "error": error})

    await asyncio.gather(*(one(i) for i in indices))
    return {"results": results, "resends": RESENDS[0]}


def percentile(values, p):
    if not values:
        return 0.0
    values = sorted(values)
    return values[min(len(values) - 1, max(0, round(p / 100 * len(values) + 0.5) - 1))]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--http", required=True, help="HOST:PORT")
    parser.add_argument("--tftp", required=True, help="HOST:PORT")
    parser.add_argument("--root", required=True, help="a directory holding the served files, for their sizes")
    parser.add_argument("--nodes", type=int, required=True)
    parser.add_argument("--procs", type=int, default=1, help="client processes sharing the nodes")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds a node may take")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--t0", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    host, port = args.http.rsplit(":", 1)
    args.http = (host, int(port))
    host, port = args.tftp.rsplit(":", 1)
    args.tftp = (host, int(port))
    sizes = {}
    for dirpath, _, names in os.walk(args.root):
        for name in names:
            full = os.path.join(dirpath, name)
            sizes[os.path.relpath(full, args.root)] = os.path.getsize(full)

    if args.worker is not None:
        indices = range(args.worker, args.nodes, args.procs)
        json.dump(asyncio.run(run_nodes(indices, args.nodes, args.t0, args, sizes)), sys.stdout)
        return

    t0 = time.monotonic() + 1.0  # CLOCK_MONOTONIC: the same clock in every worker
    if args.procs == 1:
        outcome = asyncio.run(run_nodes(range(args.nodes), args.nodes, t0, args, sizes))
        results, resends = outcome["results"], outcome["resends"]
    else:
        argv = [sys.executable, __file__] + sys.argv[1:] + ["--t0", repr(t0)]
        workers = [subprocess.Popen(argv + ["--worker", str(k)], stdout=subprocess.PIPE) for k in range(args.procs)]
        results, resends = [], 0
        for w in workers:
            out, _ = w.communicate()
            outcome = json.loads(out)
            results += outcome["results"]
            resends += outcome["resends"]
    done = [r for r in results if r["error"] is None]
    reasons = {}
    for r in results:
        if r["error"] is not None:
            reasons[r["error"]] = reasons.get(r["error"], 0) + 1
    first = min(r["start"] for r in results)
    last = max(r["end"] for r in done) if done else first
    ttlb = [r["end"] - r["start"] for r in done]
    json.dump(
        {
            "nodes": args.nodes,
            "completed": len(done),
            "failures": args.nodes - len(done),
            "reasons": reasons,
            "wall": last - first,
            "per_second": len(done) / (last - first) if last > first else 0.0,
            "p50": percentile(ttlb, 50),
            "p99": percentile(ttlb, 99),
            "tftp_resends": resends,
        },
        sys.stdout,
    )
    print()


if __name__ == "__main__":
    main()
