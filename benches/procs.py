"""What the benches' embedded Python scripts ask of the machine: a free
loopback port and a process's resident memory. One home, imported by
benches/footprint.sh and benches/idle.sh (PYTHONPATH=benches)."""
import socket


def free_port():
    """A loopback port nothing listens on at the moment of asking."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def rss_kib(pid):
    """The process's resident set (VmRSS), in KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return None
