"""A client that writes requests without reading the answers, against
ferry's SFTP listener (tests/sftp/attacks.rs).

python3 window.py PORT: opens /big.bin, asks for three 64 KiB READs with
a window of its own of 32 KiB (so the server's answers stop at once),
then sends REALPATH requests, never reading, until the server's window
stays shut for PAUSE seconds. Prints `sent N` (bytes of requests the
window let through) and then, having read every answer, `answers M`."""

import socket
import struct
import sys
import threading

import paramiko

PAUSE = 3


def packet(kind, body):
    return struct.pack(">IB", len(body) + 1, kind) + body


def string(b):
    return struct.pack(">I", len(b)) + b


def read_packet(chan):
    head = b""
    while len(head) < 4:
        got = chan.recv(4 - len(head))
        if not got:
            raise EOFError("the server closed the channel")
        head += got
    (length,) = struct.unpack(">I", head)
    body = b""
    while len(body) < length:
        got = chan.recv(length - len(body))
        if not got:
            raise EOFError("the server closed the channel")
        body += got
    return body


transport = paramiko.Transport(("127.0.0.1", int(sys.argv[1])))
transport.start_client(timeout=30)
transport.auth_none("tester")
chan = transport.open_session(window_size=32768, max_packet_size=32768)
chan.invoke_subsystem("sftp")
chan.sendall(packet(1, struct.pack(">I", 3)))
assert read_packet(chan)[0] == 2, "VERSION"
chan.sendall(packet(3, struct.pack(">I", 1) + string(b"/big.bin") + struct.pack(">II", 1, 0)))
answer = read_packet(chan)
assert answer[0] == 102, f"HANDLE, not {answer[:40]!r}"
handle = answer[5:]  # the handle's string, its length in front

requests = [
    packet(5, struct.pack(">I", 2 + i) + handle + struct.pack(">QI", i * 65536, 65536))
    for i in range(3)
]
# REALPATH of a long way to the root: 4 KB a request, a short answer.
way = b"/" + b"a/../" * 800
requests += [packet(16, struct.pack(">I", 5 + i) + string(way)) for i in range(1000)]

chan.settimeout(PAUSE)
stream = b"".join(requests)
sent = 0
try:
    while sent < len(stream):
        sent += chan.send(stream[sent:sent + 32768])
except socket.timeout:
    pass
print(f"sent {sent}", flush=True)

# Then the answers are read, and the rest sent as the window opens: the
# session was never cut.
chan.settimeout(60)
rest = threading.Thread(target=lambda: chan.sendall(stream[sent:]))
rest.start()
answers = 0
for _ in requests:
    kind = read_packet(chan)[0]
    assert kind in (103, 104), f"DATA or NAME, not {kind}"
    answers += 1
rest.join()
print(f"answers {answers}")
transport.close()
