# A paramiko session that rests between its steps (tests/sftp/rest.rs):
# after each step it prints the step's name and waits for a line on stdin,
# which the test sends once the server says the session rested.
#
#   python3 -c SCRIPT PORT EXPECTED_DIR
import hashlib, os, sys, paramiko

port, expected = int(sys.argv[1]), sys.argv[2]


def rested(step):
    print(step, flush=True)
    assert sys.stdin.readline().strip() == "go", "the test went away"


def put(sftp, name, size):
    data = os.urandom(size)
    with sftp.open(name, "wb") as f:
        f.set_pipelined(True)
        f.write(data)
    with open(os.path.join(expected, name), "wb") as f:
        f.write(data)
    return data


def get(sftp, name):
    with sftp.open(name, "rb") as f:
        f.prefetch()
        return f.read()


transport = paramiko.Transport(("127.0.0.1", port))
transport.connect(username="rester", password="x")
sftp = paramiko.SFTPClient.from_transport(transport)
assert sftp.listdir(".") == ["small.txt"], sftp.listdir(".")
rested("listed")

assert get(sftp, "small.txt") == b"small\n"
big = put(sftp, "big.bin", 6 * 1024 * 1024 + 17)
rested("put")

assert sorted(sftp.listdir(".")) == ["big.bin", "small.txt"]
assert hashlib.sha256(get(sftp, "big.bin")).digest() == hashlib.sha256(big).digest()
rested("got")

transport.renegotiate_keys()
rested("rekeyed")

assert get(sftp, "small.txt") == b"small\n"
put(sftp, "after.bin", 3 * 1024 * 1024)
sftp.close()
transport.close()
print("done", flush=True)
