"""Fetches one shard from an rtensor Flight worker with pyarrow.flight and checks its values.

Usage: flight_fetch.py HOST:PORT SHARD_ID N
The key: RTENSOR_DATA_PLANE_KEY (hex of SessionSecret.key("data-plane"): enough to read shards,
not to control workers), else derived from the session secret in RTENSOR_SESSION_SECRET.
With RTENSOR_TLS_ROOT_CERT (a PEM file: the session's certificate, SessionTls.certificatePem())
it connects over TLS, trusting only that certificate and checking the server's name against
"rtensor-session" (the certificate's name: node addresses are not in it), and also checks that a
plaintext client is refused.
HOST:PORT is the address the worker advertises (a shard handle's location): the worker proves
it holds the key for exactly that address before this client sends its own proof.
The shard holds one float32 column "tensor" of N values i * 0.25. Also checks that a call
without the handshake, and a handshake with a wrong key, are refused.
"""
import hashlib
import hmac
import os
import struct
import sys

import numpy as np
import pyarrow as pa
import pyarrow.flight as flight

MAGIC = b"RTA1"
HELLO, CHALLENGE, PROOF, TOKEN = b"\x01", b"\x02", b"\x03", b"\x04"


def session_key(secret, purpose="data-plane"):
    """SessionSecret.key(purpose): HMAC-SHA256(secret, "rtensor-session-key-v1:" + purpose)."""
    message = ("rtensor-session-key-v1:" + purpose).encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).digest()


class RtensorAuth(flight.ClientAuthHandler):
    """The client's side of io.rtensor.auth.SessionAuth, for FlightClient.authenticate."""

    def __init__(self, key, identity):
        super().__init__()
        self.key = key
        self.identity = identity.encode()
        self.token = b""

    def _mac(self, label, nc, ns):
        return hmac.new(self.key, label + b"\0" + nc + ns + self.identity, hashlib.sha256).digest()

    def authenticate(self, outgoing, incoming):
        nc = os.urandom(32)
        outgoing.write(MAGIC + HELLO + nc)
        challenge = incoming.read()
        if challenge[:5] != MAGIC + CHALLENGE or len(challenge) < 5 + 64:
            raise flight.FlightUnauthenticatedError("the server sent no valid challenge")
        ns, ps, claimed = challenge[5:37], challenge[37:69], challenge[69:]
        expected = self._mac(b"rtensor-auth-v1 server", nc, ns)
        if claimed != self.identity or not hmac.compare_digest(ps, expected):
            # Send nothing more to a server that cannot prove it holds the key for this address.
            raise flight.FlightUnauthenticatedError("the server did not prove it holds the key")
        outgoing.write(MAGIC + PROOF + self._mac(b"rtensor-auth-v1 client", nc, ns))
        reply = incoming.read()
        if reply[:5] != MAGIC + TOKEN or len(reply) <= 13:
            raise flight.FlightUnauthenticatedError("the server sent no token")
        (self.lifetime_ms,) = struct.unpack(">q", reply[5:13])
        self.token = reply[13:]

    def get_token(self):
        return self.token


address, shard_id, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
if os.environ.get("RTENSOR_DATA_PLANE_KEY"):
    key = bytes.fromhex(os.environ["RTENSOR_DATA_PLANE_KEY"])
else:
    key = session_key(os.environ["RTENSOR_SESSION_SECRET"])
options = flight.FlightCallOptions(timeout=30)

root_cert = os.environ.get("RTENSOR_TLS_ROOT_CERT")
if root_cert:
    with open(root_cert, "rb") as f:
        pem = f.read()

    def connect():
        return flight.FlightClient(
            "grpc+tls://" + address, tls_root_certs=pem, override_hostname="rtensor-session"
        )

    plaintext = flight.FlightClient("grpc+tcp://" + address)
    try:
        plaintext.authenticate(RtensorAuth(key, address), flight.FlightCallOptions(timeout=10))
        print("FAIL: a plaintext client was served by a TLS server")
        sys.exit(1)
    except flight.FlightError:
        pass
else:

    def connect():
        return flight.FlightClient("grpc+tcp://" + address)


anonymous = connect()
try:
    anonymous.do_get(flight.Ticket(shard_id.encode()), options).read_all()
    print("FAIL: a call without the handshake was served")
    sys.exit(1)
except flight.FlightUnauthenticatedError:
    pass

wrong = connect()
try:
    wrong.authenticate(RtensorAuth(session_key("not the session secret"), address), options)
    print("FAIL: a handshake with a wrong key succeeded")
    sys.exit(1)
except flight.FlightError:
    pass

client = connect()
client.authenticate(RtensorAuth(key, address), options)
table = client.do_get(flight.Ticket(shard_id.encode()), options).read_all()
assert table.num_rows == 1, table
assert table.column("id")[0].as_py() == shard_id
shard = table.column("shard")[0].as_buffer()
inner = pa.ipc.open_stream(shard).read_all()
values = inner.column("tensor").to_numpy()
expected = np.arange(n, dtype=np.float32) * 0.25
assert values.dtype == np.float32, values.dtype
assert np.array_equal(values, expected), values[:10]
stats = list(client.do_action(flight.Action("stats", b""), options))
print("stats", stats[0].body.to_pybytes().decode())
print("OK", n, "values", "over TLS" if root_cert else "in plaintext")
