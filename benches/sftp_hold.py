#!/usr/bin/env python3
"""Idle SFTP sessions for benches/sftp_idle.sh (paramiko).

  sftp_hold.py --port P --count N --ready-file F [--dir D] [--name small.bin]
               [--user U] [--password W | --key PRIVATE_KEY]

Opens N SSH connections, one after another, each logged in (a password, or
an ed25519 key) with its `sftp` subsystem; on each, one listing of D and
one get of D/NAME (read whole). Then writes "ready <n>" to F and holds
them all, idle, until killed. Host keys are not checked (loopback only).
"""

import argparse
import os
import resource
import signal
import socket
import sys
import time

import paramiko


def session(args, key):
    """One logged-in SFTP session that listed and got once."""
    sock = socket.create_connection(("127.0.0.1", args.port))
    transport = paramiko.Transport(sock)
    transport.start_client(timeout=60)
    if key is not None:
        transport.auth_publickey(args.user, key)
    else:
        transport.auth_password(args.user, args.password)
    sftp = paramiko.SFTPClient.from_transport(transport)
    sftp.listdir(args.dir)
    with sftp.open(f"{args.dir}/{args.name}", "rb") as f:
        f.read()
    return transport, sftp


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--ready-file", required=True)
    parser.add_argument("--dir", default=".")
    parser.add_argument("--name", default="small.bin")
    parser.add_argument("--user", default="bench")
    parser.add_argument("--password", default="x")
    parser.add_argument("--key")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    key = paramiko.Ed25519Key.from_private_key_file(args.key) if args.key else None
    held = [session(args, key) for _ in range(args.count)]
    with open(args.ready_file + ".tmp", "w") as f:
        f.write(f"ready {len(held)}\n")
    os.rename(args.ready_file + ".tmp", args.ready_file)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
