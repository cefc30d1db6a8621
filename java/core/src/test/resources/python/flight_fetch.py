"""Fetches one shard from an rtensor Flight worker with pyarrow.flight and checks its values.

Usage: flight_fetch.py HOST:PORT SHARD_ID N  (the session secret in RTENSOR_SESSION_SECRET)
The shard holds one float32 column "tensor" of N values i * 0.25. Also checks that a call
without the token is refused as unauthenticated.
"""
import os
import sys

import numpy as np
import pyarrow as pa
import pyarrow.flight as flight

address, shard_id, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
secret = os.environ["RTENSOR_SESSION_SECRET"]
client = flight.FlightClient("grpc+tcp://" + address)

try:
    client.do_get(flight.Ticket(shard_id.encode())).read_all()
    print("FAIL: a call without the token was served")
    sys.exit(1)
except flight.FlightUnauthenticatedError:
    pass

options = flight.FlightCallOptions(headers=[(b"authorization", ("Bearer " + secret).encode())])
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
print("OK", n, "values")
