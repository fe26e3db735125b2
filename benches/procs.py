"""What the benches' embedded Python scripts ask of the machine: a
server started on port 0 and the ports it took (or a free loopback
port), a process's resident memory. One home, imported by
benches/footprint.sh and benches/idle.sh (PYTHONPATH=benches)."""
import re
import socket
import subprocess
import sys
import time


def serve(command, log_path, limit=300):
    """Starts `command`, a `ferry serve` whose listeners are all on port 0,
    its output to the file `log_path`, and waits for its line saying where
    it serves (as benches/lib.sh's `served` does: every listener is bound
    then). Returns the process and its ports by protocol, {"FERRY": p,
    "HTTP": q, ...} (FERRY: the first listener). Exits if the server does
    first, or says nothing within `limit` seconds."""
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT)
    deadline = time.monotonic() + limit
    while True:
        with open(log_path, "rb") as f:
            text = f.read().decode(errors="replace")
        line = re.search(r" serving .*? on 127\.0\.0\.1:(\d+)(.*)", text)
        if line:
            ports = {"FERRY": int(line.group(1))}
            found = re.findall(r"\((\w+) on 127\.0\.0\.1:(\d+)", line.group(2))
            ports.update({name: int(port) for name, port in found})
            return proc, ports
        if proc.poll() is not None:
            sys.exit(f"the server exited ({proc.returncode}): {text[-500:]}")
        if time.monotonic() > deadline:
            proc.kill()
            sys.exit(f"the server did not say where it serves within {limit} s")
        time.sleep(0.01)


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
