#!/usr/bin/env python3
"""A small FERRY/1 client in standard-library Python: put, get, ls, stat, rm, mv.

Uploads carry their CRC-32C, so the server refuses damaged bytes; downloads
are checked against the CRC-32C the server reports for the whole file (when
it knows it: not yet for a file placed in its root by other means), and a
download that does not match is removed. The protocol is in PROTOCOL.md
at the top of the repository.

As a library:

    from ferry_client import Ferry
    with Ferry("127.0.0.1", 5010, token="ferry_...") as ferry:
        ferry.put("notes/hello.txt", b"hello\\n")
        data = ferry.get("notes/hello.txt")
        for size, mtime, name in ferry.ls("notes/"):
            print(size, name)
        for size, mtime, name in ferry.dir("notes"):  # one level; size None: a folder
            print(size, name)
        ferry.mv("notes/hello.txt", "notes/hi.txt")
        size, mtime, crc = ferry.stat("notes/hello.txt")
        ferry.rm("notes/hello.txt")

With a token, the connection authenticates
(`AUTH`) right after the greeting; a token the server does not accept
raises FerryError: 401 unknown or revoked, 429 too many failures from this
address, 400 from a server without access control (which needs none).
Without one the client is anonymous: a server with access control (its
greeting says `auth`: `ferry.access_control`) allows what its anonymous
grants allow and refuses the rest with FerryError 401; a token without the
grant an operation needs gets 403.

Over TLS (a server started with `--tls-cert`), pass an `ssl.SSLContext`:

    context = ssl.create_default_context(cafile="ferry-cert.pem")
    with Ferry("localhost", 5010, tls=context) as ferry: ...

As a command:

    python3 ferry_client.py [--server HOST:PORT] [--token TOKEN] put LOCAL [REMOTE]
    python3 ferry_client.py [--server HOST:PORT] [--token TOKEN] get REMOTE [LOCAL]
    python3 ferry_client.py [--server HOST:PORT] [--token TOKEN] ls [NAME]
    python3 ferry_client.py [--server HOST:PORT] [--token TOKEN] ls -R [PREFIX]
    python3 ferry_client.py [--server HOST:PORT] [--token TOKEN] stat NAME
    python3 ferry_client.py [--server HOST:PORT] [--token TOKEN] rm NAME [NAME...]
    python3 ferry_client.py [--server HOST:PORT] [--token TOKEN] mv FROM TO

The options may also come after the command: `ls -R logs --server HOST:PORT`.

`put - REMOTE` uploads standard input, whatever its length. `put` gives
the remote file the local file's modification time. `ls` lists one level
of a folder, as the `ferry` binary does: its sub-folders (size `-`, name
ending in `/`), then its files; `ls NAME` is the folder NAME if there is
one, else the file NAME (its own line), and `ls NAME/` the folder only;
`ls -R PREFIX` lists every file whose name starts with PREFIX. A name that
matches nothing is an error (exit 1); only the top of an empty server
lists as empty.

Add --tls (the system's certificate authorities), --ca PEM (only those in
the file, such as `ferry cert`'s certificate) or --insecure (no check of
the certificate at all) to connect over TLS.

The server defaults to $FERRY_SERVER, else 127.0.0.1:5010; the token to
$FERRY_TOKEN, else none (anonymous). Prefer $FERRY_TOKEN: other users can
see a command line in the process list. No message ever shows the token.
Exit codes as for the `ferry` binary: 0 ok, 1 the server refused (a token
it does not accept, or a missing grant: 401, 403, 429 included), 2 usage,
3 connection, local I/O or checksum failure. `rm` of several names removes
each it can, reports each failure on its own line, and exits 1 if any
failed. `rm NAME/` removes the folder NAME with everything in it the token
may delete; what stayed is reported a line each (exit 1).
"""

import argparse
import os
import socket
import ssl
import sys
from urllib.parse import quote, unquote_to_bytes

CHUNK = 256 * 1024

# Longest token the server accepts in `AUTH`.
MAX_TOKEN = 256

# A FERRY/1 server greets at once: a plaintext port silent this long (in
# seconds) is asked, on a connection of its own, whether it speaks HTTP or
# TLS, as the `ferry` binary does (src/client/probe.rs).
PROBE_AFTER = 0.5


def _crc32c_table():
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 & -(crc & 1))
        table.append(crc)
    return table


_TABLE = _crc32c_table()


def crc32c(data, crc=0):
    """CRC-32C (Castagnoli) of `data`, continuing from `crc` (0 to start).

    Pure Python and table-driven: about 10 MB/s, plenty for a reference
    client. Python's zlib.crc32 is a different CRC and must not be used.
    """
    crc ^= 0xFFFFFFFF
    table = _TABLE
    for byte in data:
        crc = (crc >> 8) ^ table[(crc ^ byte) & 0xFF]
    return crc ^ 0xFFFFFFFF


class FerryError(Exception):
    """The server answered ERR <code> <message>."""

    def __init__(self, code, message):
        super().__init__(f"{message} (ERR {code})")
        self.code = code
        self.message = message


class WrongPort(ConnectionError):
    """The port speaks another protocol (HTTP, TLS); the message says
    which, and what to connect with instead."""


class ChecksumError(Exception):
    """Downloaded bytes do not match the CRC-32C the server reported."""


def encode(name):
    """A name as FERRY/1 carries it: SP, %, controls percent-encoded."""
    return quote(name, safe="/")


def check_token(token):
    """Raises ValueError unless `token` can go in an `AUTH` line: 1 to 256
    visible ASCII characters (no space, no newline). The message never
    shows the token."""
    if not 0 < len(token) <= MAX_TOKEN or not all("!" <= c <= "~" for c in token):
        raise ValueError(f"a token is 1 to {MAX_TOKEN} visible ASCII characters")


class Ferry:
    """One connection to a ferry server; one request at a time.

    With `token`, authenticates as its holder before anything else
    (`token_name` is then the name the server knows it by); a refused
    token raises FerryError and leaves no connection open.
    """

    def __init__(self, host="127.0.0.1", port=5010, timeout=60, token=None, tls=None):
        if token is not None:
            check_token(token)
        sock = socket.create_connection((host, port), timeout=timeout)
        if tls is None and timeout > PROBE_AFTER:
            try:
                if _silent(sock, PROBE_AFTER, timeout):
                    _refuse_other_protocols(host, port)
            except BaseException:
                sock.close()
                raise
        if tls is not None:
            try:
                sock = tls.wrap_socket(sock, server_hostname=host)
            except BaseException:
                sock.close()
                raise
        self.sock = sock
        self.reader = self.sock.makefile("rb")
        # The modification time the last GET reported (Unix seconds).
        self.last_mtime = None
        try:
            self._greeting()
            # A server without access control needs no token: it is not
            # sent (nor exposed on the way) to one that would refuse it.
            wanted = token is not None and self.access_control
            self.token_name = self.auth(token) if wanted else None
        except BaseException:
            self.reader.close()
            self.sock.close()
            raise

    def _greeting(self):
        """Reads `OK FERRY/1 <client-id>[ auth]` (further tokens ignored)."""
        fields = self._reply()
        if len(fields) < 2 or fields[0] != "FERRY/1":
            raise ConnectionError("not a FERRY/1 server")
        self.client_id = int(fields[1])
        # Access control is on: some requests may need a token.
        self.access_control = len(fields) > 2 and fields[2] == "auth"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        try:
            self.sock.sendall(b"QUIT\n")
            self._reply()
        except (OSError, FerryError):
            pass
        self.reader.close()
        self.sock.close()

    def _reply(self):
        """Reads one reply line: the OK fields, or raises FerryError."""
        line = self.reader.readline(4096)
        if not line.endswith(b"\n"):
            raise ConnectionError("connection closed by the server")
        text = line.decode("utf-8", "replace").rstrip("\r\n")
        if text == "OK":
            return []
        if text.startswith("OK "):
            return text[3:].split(" ")
        if text.startswith("ERR "):
            code, _, message = text[4:].partition(" ")
            raise FerryError(int(code), message)
        raise ConnectionError(f"unexpected reply {text!r}")

    def auth(self, token):
        """Authenticates with `token` for the rest of the connection;
        returns the token's name. FerryError 401 (unknown or revoked), 429
        (too many failures from this address) or 400 (the server has no
        access control) leaves the connection usable, as an anonymous one."""
        check_token(token)
        self.sock.sendall(b"AUTH %s\n" % token.encode("ascii"))
        fields = self._reply()
        return fields[0] if fields else None

    def _body(self, n, out):
        """Copies an n-byte body to out; returns its CRC-32C."""
        crc = 0
        while n > 0:
            chunk = self.reader.read(min(n, CHUNK))
            if not chunk:
                raise ConnectionError("connection closed in the middle of a body")
            out.write(chunk)
            crc = crc32c(chunk, crc)
            n -= len(chunk)
        return crc

    def put(self, name, data, mtime=None):
        """Uploads bytes as `name`, with modification time `mtime` (Unix
        seconds; None: the server's clock); returns (size, crc32c) as
        stored."""
        crc = crc32c(data)
        line = b"PUT %s %d %08x" % (encode(name).encode(), len(data), crc)
        if mtime is not None and mtime >= 0:
            line += b" mtime=%d" % mtime
        self.sock.sendall(line + b"\n" + data)
        fields = self._reply()
        size, stored = int(fields[0]), int(fields[1], 16)
        if (size, stored) != (len(data), crc):
            raise ConnectionError("the server stored something else than was sent")
        return size, stored

    def put_stream(self, name, readable):
        """Uploads everything a binary `readable` yields, to its end, as
        `name`, whatever its length (`PUT <name> * -`: chunks, then the
        CRC-32C); returns (size, crc32c) as stored."""
        self.sock.sendall(b"PUT %s * -\n" % encode(name).encode())
        size, crc = 0, 0
        while True:
            chunk = readable.read(CHUNK)
            if not chunk:
                break
            self.sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            crc = crc32c(chunk, crc)
            size += len(chunk)
        self.sock.sendall(b"0\r\nCRC %08x\r\n\r\n" % crc)
        fields = self._reply()
        if (int(fields[0]), int(fields[1], 16)) != (size, crc):
            raise ConnectionError("the server stored something else than was sent")
        return size, crc

    def get(self, name):
        """Downloads `name` into memory, verified."""

        class Buffer(list):
            write = list.append

        parts = Buffer()
        self.get_into(name, parts)
        return b"".join(parts)

    def get_into(self, name, out):
        """Downloads `name` into a writable `out`, verified; returns its size."""
        self.sock.sendall(b"GET %s\n" % encode(name).encode())
        fields = self._reply()
        n = int(fields[0])
        # The file's modification time (servers before it sent none).
        self.last_mtime = int(fields[3]) if len(fields) > 3 else None
        crc = self._body(n, out)
        # Servers before the CRC field sent only <n> <total>, and "-" means
        # the server has not read a file placed by other means yet: then
        # there is nothing to check against.
        if len(fields) > 2 and fields[2] != "-" and int(fields[2], 16) != crc:
            raise ChecksumError(
                f"checksum mismatch: received data has CRC-32C {crc:08x}, "
                f"the server's file {fields[2]}"
            )
        return n

    def stat(self, name):
        """(size, mtime, crc32c or None) of `name`."""
        self.sock.sendall(b"STAT %s\n" % encode(name).encode())
        fields = self._reply()
        crc = int(fields[2], 16) if len(fields) > 2 else None
        return int(fields[0]), int(fields[1]), crc

    def ls(self, prefix=""):
        """[(size, mtime, name)] of every file whose name starts with `prefix`."""
        line = b"LIST %s\n" % encode(prefix).encode() if prefix else b"LIST\n"
        return self._listing(line)

    def dir(self, folder=""):
        """One level of `folder` (default: the top): [(size, mtime, name)],
        first its sub-folders (size None, name ending in `/`), then its
        files."""
        folder = folder.rstrip("/")
        return self._listing(b"DIR %s\n" % encode(folder).encode() if folder else b"DIR\n")

    def _listing(self, line):
        """Sends a LIST or DIR line and parses its listing."""
        self.sock.sendall(line)
        n = int(self._reply()[0])
        listing = self.reader.read(n)
        if len(listing) != n:
            raise ConnectionError("connection closed in the middle of a listing")
        entries = []
        for entry in listing.decode("utf-8").splitlines():
            size, mtime, name = entry.split(" ", 2)
            size = None if size == "-" else int(size)
            entries.append((size, int(mtime), unquote_to_bytes(name).decode("utf-8")))
        return entries

    def mv(self, source, target):
        """Renames `source` to `target` (replacing a file there), atomically."""
        self.sock.sendall(b"MOVE %s %s\n" % (encode(source).encode(), encode(target).encode()))
        self._reply()

    def rm(self, name):
        """Removes `name`; a name ending in `/` is a folder, removed with
        everything in it the token may delete. Returns what stayed:
        [(name, code, reason)], empty when all went (always for a file)."""
        self.sock.sendall(b"DEL %s\n" % encode(name).encode())
        fields = self._reply()
        if not fields:
            return []
        n = int(fields[0])
        report = self.reader.read(n)
        if len(report) != n:
            raise ConnectionError("connection closed in the middle of a report")
        stayed = []
        for line in report.decode("utf-8").splitlines():
            code, name, reason = line.split(" ", 2)
            if code == "more":
                stayed.append((None, None, f"and {name} more"))
            else:
                stayed.append((unquote_to_bytes(name).decode("utf-8"), int(code), reason))
        return stayed


def _silent(sock, seconds, timeout):
    """Whether `sock` stays silent for `seconds`; its timeout is `timeout`
    again afterwards."""
    sock.settimeout(seconds)
    try:
        sock.recv(1, socket.MSG_PEEK)
        return False
    except socket.timeout:
        return True
    finally:
        sock.settimeout(timeout)


def _refuse_other_protocols(host, port):
    """Raises WrongPort if the port answers a small HTTP request in HTTP or
    TLS; anything else (a FERRY/1 greeting, nothing) is left for the
    waiting connection to tell."""
    answer = b""
    try:
        with socket.create_connection((host, port), timeout=PROBE_AFTER) as probe:
            probe.sendall(f"HEAD / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
            while len(answer) < 4096:
                more = probe.recv(4096)
                if not more:
                    break
                answer += more
    except OSError:
        pass
    # A TLS alert, or a plaintext answer about TLS (ferry's TLS ports answer
    # `ERR 400 ... TLS`, or an HTTP 400, instead of a greeting).
    http = answer.startswith(b"HTTP/")
    about_tls = http or answer.startswith(b"ERR ")
    if answer.startswith(b"\x15") or about_tls and (b"TLS" in answer.upper() or b"HTTPS" in answer.upper()):
        raise WrongPort(f"{host}:{port} speaks TLS: connect with --tls or --ca")
    if http:
        raise WrongPort(f"{host}:{port} speaks HTTP, not FERRY/1: use --server with the FERRY/1 port")


def _partial_path(target):
    head, tail = os.path.split(target)
    return os.path.join(head, f".{tail}.ferry-part")


def _tls_context(args):
    """The SSL context the command line asks for, or None for plaintext."""
    if args.ca:
        return ssl.create_default_context(cafile=args.ca)
    if args.insecure:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    if args.tls:
        return ssl.create_default_context()
    return None


def _remote_name(local, remote):
    """The name to store `local` under: `remote`, or the local file's own
    name; like cp and scp (and the ferry binary), a `remote` ending in `/`
    is a folder to put it in: `put report.csv sensors/` stores
    `sensors/report.csv`."""
    leaf = os.path.basename(local)
    if not remote:
        return leaf
    if remote.endswith("/"):
        return remote + leaf
    return remote


def _listing(ferry, name, recursive):
    """What `ls` shows, as the `ferry` binary's `ls` does: one level of the
    folder `name`, or the file `name`'s own line; with `recursive`, every
    file whose name starts with `name`. Raises a 404 FerryError when
    nothing is there (but for the top of an empty server)."""
    if recursive:
        entries = ferry.ls(name)
        if name and not entries:
            raise FerryError(404, "no such file or folder")
        return entries
    try:
        return ferry.dir(name)
    except FerryError as err:
        if err.code != 404 or not name:
            raise
        if name.endswith("/"):
            raise FerryError(404, "no such folder") from err
    # Not a folder: the file of that name, if there is one.
    try:
        size, mtime, _ = ferry.stat(name)
    except FerryError as err:
        if err.code == 404:
            raise FerryError(404, "no such file or folder") from err
        raise
    return [(size, mtime, name)]


def _add_connection_options(parser, default=None):
    """--server, --token, --tls, --ca, --insecure on `parser`; with
    `default` argparse.SUPPRESS, none of them has a default."""

    def given(value):
        return value if default is None else default

    parser.add_argument(
        "--server",
        default=given(os.environ.get("FERRY_SERVER", "127.0.0.1:5010")),
        help="host:port (default $FERRY_SERVER, else 127.0.0.1:5010)",
    )
    parser.add_argument(
        "--token",
        default=given(os.environ.get("FERRY_TOKEN") or None),
        help="authenticate with this token (default $FERRY_TOKEN, else anonymous)",
    )
    trust = parser.add_mutually_exclusive_group()
    trust.add_argument("--tls", action="store_true", default=given(False),
                       help="connect over TLS (system CAs)")
    trust.add_argument("--ca", metavar="PEM", default=given(None),
                       help="connect over TLS, trusting only these certificates")
    trust.add_argument("--insecure", action="store_true", default=given(False),
                       help="connect over TLS without checking the certificate")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="ferry_client.py", description=__doc__.splitlines()[0])
    _add_connection_options(parser)
    # The same options after the command's name (`ls -R --server h:5010`),
    # as the ferry binary takes them: given there, they win; not given,
    # they leave what came before the name (or the default) alone.
    after = argparse.ArgumentParser(add_help=False)
    _add_connection_options(after, argparse.SUPPRESS)
    commands = parser.add_subparsers(dest="command", required=True)
    put = commands.add_parser("put", parents=[after], help="upload a local file")
    put.add_argument("local")
    put.add_argument("remote", nargs="?")
    get = commands.add_parser("get", parents=[after], help="download a remote file")
    get.add_argument("remote")
    get.add_argument("local", nargs="?")
    ls = commands.add_parser("ls", parents=[after], help="list one level of a folder (-R: every file below)")
    ls.add_argument("prefix", nargs="?", default="")
    ls.add_argument("-R", "--recursive", action="store_true",
                    help="every file whose name starts with PREFIX")
    stat = commands.add_parser("stat", parents=[after], help="show a remote file's size, mtime and CRC-32C")
    stat.add_argument("name")
    rm = commands.add_parser("rm", parents=[after], help="remove remote files")
    rm.add_argument("names", nargs="+", metavar="name")
    mv = commands.add_parser("mv", parents=[after], help="rename a remote file")
    mv.add_argument("source")
    mv.add_argument("target")
    args = parser.parse_args(argv)
    if args.token is not None:
        try:
            check_token(args.token)
        except ValueError as err:
            parser.error(f"--token (or $FERRY_TOKEN): {err}")

    host, _, port = args.server.rpartition(":")
    try:
        ferry = Ferry(host, int(port), token=args.token, tls=_tls_context(args))
    except FerryError as err:
        # The token refused (401, 429), or the server busy (503).
        print(f"ferry: {args.server}: {err.message}", file=sys.stderr)
        return 1
    except WrongPort as err:
        print(f"ferry: {err}", file=sys.stderr)
        return 3
    except (OSError, ValueError) as err:
        print(f"ferry: cannot connect to {args.server}: {err}", file=sys.stderr)
        return 3
    if args.command in ("put", "get"):
        subject = args.remote
    elif args.command == "ls":
        subject = args.prefix or "listing"
    elif args.command == "stat":
        subject = args.name
    elif args.command == "mv":
        subject = args.source
    else:
        subject = args.names[0]
    try:
        with ferry:
            if args.command == "put":
                if args.local == "-":
                    if not args.remote or args.remote.endswith("/"):
                        print("ferry: -: standard input has no name: give the remote file's name",
                              file=sys.stderr)
                        return 2
                    subject = args.remote
                    size, crc = ferry.put_stream(subject, sys.stdin.buffer)
                    print(f"stored {subject} ({size} bytes, crc32c {crc:08x})")
                    return 0
                subject = _remote_name(args.local, args.remote)
                with open(args.local, "rb") as f:
                    data = f.read()
                    mtime = int(os.fstat(f.fileno()).st_mtime)
                size, crc = ferry.put(subject, data, mtime)
                print(f"stored {subject} ({size} bytes, crc32c {crc:08x})")
            elif args.command == "get":
                target = args.local or args.remote.rsplit("/", 1)[-1]
                partial = _partial_path(target)
                try:
                    with open(partial, "wb") as out:
                        size = ferry.get_into(args.remote, out)
                    if ferry.last_mtime is not None:
                        os.utime(partial, (ferry.last_mtime, ferry.last_mtime))
                    os.replace(partial, target)
                finally:
                    if os.path.exists(partial):
                        os.remove(partial)
                print(f"saved {target} ({size} bytes)")
            elif args.command == "ls":
                for size, mtime, name in _listing(ferry, args.prefix, args.recursive):
                    print(f"{'-' if size is None else size:>12}  {mtime}  {name}")
            elif args.command == "mv":
                ferry.mv(args.source, args.target)
                print(f"moved {args.source} to {args.target}")
            elif args.command == "stat":
                size, mtime, crc = ferry.stat(args.name)
                print(f"name:     {args.name}")
                print(f"size:     {size}")
                print(f"mtime:    {mtime}")
                if crc is not None:
                    print(f"crc32c:   {crc:08x}")
            else:
                failed = 0
                for subject in args.names:
                    try:
                        stayed = ferry.rm(subject)
                    except FerryError as err:
                        if len(args.names) == 1:
                            raise
                        print(f"ferry: {subject}: {err.message}", file=sys.stderr)
                        failed += 1
                    else:
                        for name, _, reason in stayed:
                            print(f"ferry: {name or subject}: {reason}", file=sys.stderr)
                        failed += 1 if stayed else 0
                        print(f"{'partly ' if stayed else ''}removed {subject}")
                if failed:
                    print(
                        f"ferry: {failed} of {len(args.names)} files not removed",
                        file=sys.stderr,
                    )
                    return 1
    except FerryError as err:
        print(f"ferry: {subject}: {err.message}", file=sys.stderr)
        return 1
    except (OSError, ChecksumError) as err:
        print(f"ferry: {subject}: {err}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
