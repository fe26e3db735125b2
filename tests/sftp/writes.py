"""paramiko's writes against ferry's SFTP listener (tests/sftp/writes.rs).

python3 writes.py PORT PASSWORD MODE NAME [LOCAL]: PASSWORD "-" for none;
MODE one of the functions below; LOCAL, where given, receives the bytes
the file should now hold. Prints what the Rust test checks."""

import os
import random
import struct
import sys

import paramiko


def connect(port, password):
    transport = paramiko.Transport(("127.0.0.1", port))
    transport.start_client(timeout=30)  # the host key is a test's own
    if password == "-":
        transport.auth_none("tester")
    else:
        transport.auth_password("tester", password)
    return transport, paramiko.SFTPClient.from_transport(transport)


def pattern(n, seed):
    rng = random.Random(seed)
    return bytes(rng.getrandbits(8) for _ in range(n))


def scattered(sftp, name):
    """Chunks written in a random order, pipelined, a hole left before
    the last; returns the bytes the file should hold."""
    data = bytearray(pattern(300_000, 7))
    chunks = [(at, min(at + 32_768, len(data))) for at in range(0, len(data), 32_768)]
    random.Random(1).shuffle(chunks)
    with sftp.open(name, "wb") as f:
        f.set_pipelined(True)
        for start, end in chunks:
            f.seek(start)
            f.write(bytes(data[start:end]))
        f.seek(400_000)  # past the end: 100,000 zeros, then 5 bytes
        f.write(b"tail!")
    return bytes(data) + bytes(100_000) + b"tail!"


def backwards(sftp, name):
    """`dd seek=`-like: a block at 1 MiB first, then the start, unpipelined."""
    with sftp.open(name, "wb") as f:
        f.seek(1 << 20)
        f.write(b"B" * 4096)
        f.seek(0)
        f.write(b"A" * 4096)
    return b"A" * 4096 + bytes((1 << 20) - 4096) + b"B" * 4096


def past_quota(sftp, name):
    """A write far past the quota is refused, and so is the CLOSE."""
    f = sftp.open(name, "wb")
    f.write(b"small")
    try:
        f.seek(5_000_000)
        f.write(b"too far")
        print("written")
    except IOError as err:
        print("write refused:", err)
    try:
        f.close()
        print("closed")
    except IOError as err:
        print("close refused:", err)


def far_hole(sftp, name):
    """A write more than 64 MiB past the end is refused, then the CLOSE;
    one 60 MiB out is taken."""
    f = sftp.open(name, "wb")
    f.write(b"start")
    f.seek(60 << 20)
    f.write(b"near")
    f.flush()
    print("near written", f.stat().st_size)
    try:
        f.seek((60 << 20) + 4 + (64 << 20) + 1)
        f.write(b"far")
        f.flush()
        print("far written")
    except IOError as err:
        print("far refused:", err)
    try:
        f.close()
        print("closed")
    except IOError as err:
        print("close refused:", err)


def far_head_first(sftp, name):
    """A WRITE too far past the end whose head arrives alone and its data
    after a round trip (sshfs's large sparse writes span SSH packets):
    refused once whole, and the server goes on."""
    f = sftp.open(name, "wb")
    f.write(b"start")
    f.flush()
    data = b"x" * 1000
    head = struct.pack(">BII", 6, 4242, len(f.handle)) + f.handle
    head += struct.pack(">QI", 70 << 20, len(data))
    sftp.sock.sendall(struct.pack(">I", len(head) + len(data)) + head)
    # Answered after the head was read (the transport's packets in order).
    sftp.sock.get_transport().global_request("keepalive@openssh.com", wait=True)
    sftp.sock.sendall(data)
    kind, reply = sftp._read_packet()
    reply = paramiko.Message(reply)
    print("far reply", kind, reply.get_int(), reply.get_int(), reply.get_text())
    print("still served", sftp.stat("/").st_size is not None)


def reopened_past_quota(sftp, name):
    """A file of 80,000 bytes written, then opened in place (READ|WRITE,
    no TRUNCATE), which begins with a copy of its bytes."""
    with sftp.open(name, "wb") as f:
        f.write(bytes(80_000))
    try:
        f = sftp.open(name, "r+")
        print("opened")
        f.close()
    except IOError as err:
        print("open refused:", err)


def far_in_place(sftp, name):
    """Opened in place, then a write too far past the end: refused, and so
    is the CLOSE (the file was not changed as asked)."""
    f = sftp.open(name, "r+")
    try:
        f.seek(70 << 20)
        f.write(b"far")
        f.flush()
        print("far written")
    except IOError as err:
        print("far refused:", err)
    print("close", raw_close(sftp, f))


def never_closed(sftp, name):
    """Bytes written and the connection cut without CLOSE."""
    f = sftp.open(name, "wb")
    f.write(b"never stored")
    f.seek(100)
    f.write(b"!")
    sftp.stat(name)  # a round trip: the writes are answered
    print("cut", flush=True)
    os._exit(0)  # no CLOSE: paramiko's would come as `f` is dropped


def in_place(sftp, name):
    """An open without TRUNCATE (sshfs's, `r+`) of "0123456789": bytes
    written into it, read back through the handle, and past its end."""
    with sftp.open(name, "r+") as f:
        f.seek(3)
        f.write(b"abc")
        f.seek(0)
        print("read back", f.read().decode())
        f.seek(12)
        f.write(b"Z")
    return b"012abc6789\0\0Z"


def appended(sftp, name):
    """An APPEND open (`a`) of "0123456789": written at its end."""
    with sftp.open(name, "a") as f:
        f.write(b"+more")
    return b"0123456789+more"


def cut_midway(sftp, name):
    """The first half of the file named by the last argument, then a cut."""
    with open(sys.argv[5], "rb") as source:
        data = source.read()
    f = sftp.open(name, "wb")
    f.write(data[: len(data) // 2])
    sftp.stat(name)  # a round trip: the writes are answered
    print("cut", flush=True)
    os._exit(0)


def resumed_in_place(sftp, name):
    """WinSCP's resume of a cut upload (its `.filepart`): the size STAT
    tells, then an open for writing with neither TRUNCATE nor APPEND
    (`WRITE|CREAT`), the rest of the file named by the last argument
    written from that offset, and a CLOSE whose answer is said."""
    with open(sys.argv[5], "rb") as source:
        data = source.read()
    offset = sftp.stat(name).st_size
    flags = paramiko.sftp.SFTP_FLAG_WRITE | paramiko.sftp.SFTP_FLAG_CREATE
    _, msg = sftp._request(paramiko.sftp.CMD_OPEN, name, flags, paramiko.SFTPAttributes())
    f = paramiko.SFTPFile(sftp, msg.get_binary(), "w")
    f.seek(offset)
    f.write(data[offset:])
    f.flush()
    print("resumed at", offset, "close", raw_close(sftp, f))


def size(sftp, name):
    """What STAT says of the file's size."""
    try:
        print("size", sftp.stat(name).st_size)
    except IOError:
        print("missing")


def exclusive(sftp, name):
    """`wx` (CREATE|TRUNCATE|EXCL): made once, refused once it is there;
    and a file made by another token (the last argument) meanwhile is not
    replaced by the EXCL one's CLOSE."""
    with sftp.open(name, "wx") as f:
        f.write(b"first")
    try:
        sftp.open(name, "wx")
        print("opened again")
    except IOError as err:
        print("refused again:", err)
    later = name + ".2"
    f = sftp.open(later, "wx")
    f.write(b"mine")
    transport, other_sftp = connect(int(sys.argv[1]), sys.argv[5])
    with other_sftp.open(later, "w") as other:
        other.write(b"theirs")
    transport.close()
    try:
        f.close()  # paramiko swallows a refused CLOSE: the file tells
    except IOError:
        pass
    with sftp.open(later, "r") as f:
        print("later holds", f.read().decode())


def opened_to_read(sftp, name):
    """Opened in place (READ|WRITE) and only read, as sshfs opens a file
    `O_RDWR`; another token (the last argument) stores a newer version
    meanwhile; then the CLOSE, which must leave that version."""
    f = sftp.open(name, "r+")
    print("read", f.read(3).decode())
    transport, other_sftp = connect(int(sys.argv[1]), sys.argv[5])
    with other_sftp.open(name, "w") as other:
        other.write(b"the newer bytes")
    transport.close()
    print("close", raw_close(sftp, f))
    with sftp.open(name, "r") as f:
        print("holds", f.read().decode())


def opened_without_create(sftp, name):
    """READ|WRITE without CREAT (paramiko's `r+`) of a name where nothing
    is: no such file, as open(2) without O_CREAT says."""
    try:
        sftp.open(name, "r+")
        print("opened")
    except IOError as err:
        print("refused:", err)
    try:
        sftp.stat(name)
        print("made")
    except IOError as err:
        print("still missing:", err)


def opened_exclusive_without_create(sftp, name):
    """WRITE|EXCL without CREAT, sent as is (paramiko's modes cannot say
    it): EXCL asks nothing without CREAT, as Linux's open(2) takes
    O_EXCL alone and OpenSSH's sftp-server passes it on. A file there is
    opened in place and written over; a name where nothing is, no such
    file."""
    flags = paramiko.sftp.SFTP_FLAG_WRITE | paramiko.sftp.SFTP_FLAG_EXCL
    try:
        kind, msg = sftp._request(
            paramiko.sftp.CMD_OPEN, name, flags, paramiko.SFTPAttributes()
        )
    except IOError as err:
        print("refused:", err)
        return
    if kind != paramiko.sftp.CMD_HANDLE:
        print("no handle:", kind)
        return
    with paramiko.SFTPFile(sftp, msg.get_binary(), "w") as f:
        f.write(b"NEW")
    print("opened")


def timed(sftp, name):
    """SETSTAT of a time (`touch -d`, `put -p`, rsync's `-t`)."""
    try:
        sftp.utime(name, (1_000_000_000, 1_000_000_000))
        print("time set")
    except IOError as err:
        print("time refused:", err)


def timed_and_flushed(sftp, name):
    """Times set on the open handle, fsync@openssh.com asked, then CLOSE."""
    f = sftp.open(name, "w")
    f.write(b"synced")
    f.flush()
    sftp._request(paramiko.sftp.CMD_EXTENDED, "fsync@openssh.com", f.handle)
    f.utime((1_000_000_000, 1_000_000_000))
    f.close()
    print("mtime", sftp.stat(name).st_mtime)


def truncated(sftp, name):
    """A file cut short through its handle and written past the cut; one
    in place cut short; a path not open cut to nothing, and refused
    another size; a missing path is no file to cut, one open for writing
    is."""
    with sftp.open(name, "w") as f:
        f.write(b"a" * 100)
        f.flush()
        f.truncate(40)
        f.seek(50)
        f.write(b"X")
    with sftp.open(name + ".rw", "r+") as f:
        f.truncate(4)
    sftp.truncate(name + ".zero", 0)
    try:
        sftp.truncate(name + ".five", 5)
        print("cut to 5")
    except IOError as err:
        print("five refused:", err)
    with sftp.open(name + ".open", "w") as f:
        f.write(b"abc")
        f.flush()
        sftp.truncate(name + ".open", 0)
        print("open cut")
    with sftp.open(name + ".excl", "wx") as f:
        f.write(b"kept")
        f.flush()
        try:
            sftp.truncate(name + ".excl", 0)
            print("excl cut")
        except IOError as err:
            print("excl refused:", err)
    try:
        sftp.truncate(name + ".missing", 0)
        print("missing cut")
    except IOError as err:
        print("missing refused:", err)
    return b"a" * 40 + bytes(10) + b"X"


def raw_close(sftp, f):
    """A CLOSE whose refusal is said (paramiko's `close` swallows it)."""
    try:
        sftp._request(paramiko.sftp.CMD_CLOSE, f.handle)
        return "taken"
    except IOError as err:
        return "refused: %s" % err


def two_openers(sftp, name):
    """Two connections (one token's, or an open server's clients) open
    the same name for writing: the newer opener takes it over, the older
    one's later writes and CLOSE are refused; the newer's bytes land
    whole. Then again, the older one closing without a later write."""
    transport, other = connect(int(sys.argv[1]), sys.argv[2])
    older = sftp.open(name, "wb")
    older.write(b"A" * 1000)
    older.flush()
    newer = other.open(name, "wb")
    newer.write(b"B" * 10)
    newer.flush()
    try:
        older.write(b"A" * 1000)
        older.flush()
        print("older write taken")
    except IOError as err:
        print("older write refused:", err)
    print("older close", raw_close(sftp, older))
    newer.write(b"C" * 10)
    print("newer close", raw_close(other, newer))
    print("stored", other.open(name, "rb").read())
    older = sftp.open(name + ".2", "wb")
    older.write(b"A" * 1000)
    older.flush()
    newer = other.open(name + ".2", "wb")
    newer.write(b"B" * 10)
    newer.flush()
    print("older close 2", raw_close(sftp, older))
    print("newer close 2", raw_close(other, newer))
    print("stored 2", other.open(name + ".2", "rb").read())
    transport.close()
    return b"B" * 10 + b"C" * 10


def main():
    port, password, mode, name = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    transport, sftp = connect(port, password)
    expected = globals()[mode](sftp, name)
    if len(sys.argv) > 5 and isinstance(expected, bytes):
        with open(sys.argv[5], "wb") as out:
            out.write(expected)
    transport.close()


main()
