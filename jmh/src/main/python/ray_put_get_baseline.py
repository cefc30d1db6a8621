"""Python baseline of the Ray object store comparisons (RayObjectStoreBenchmark, ./rtensor bench):
ray.put of numpy arrays in one actor and ray.get of them in another, on the cluster at
RTENSOR_RAY_ADDRESS.

    ray_put_get_baseline.py [BYTES [COUNT [PRODUCER_IP CONSUMER_IP]]]

BYTES per array (default 64 MiB), COUNT arrays a round trip (default 1); with node IPs, the producer
actor is pinned to node PRODUCER_IP and the consumer to CONSUMER_IP (Ray's node:<ip> resource), so
every get pulls the arrays from the other node's object store. Prints 'ready PRODUCER_ID
CONSUMER_ID' (the actors' ids, hex), then runs one put + get for every 'go' line on stdin and
answers 'done <bytes>'."""
import os
import sys

import numpy as np
import ray
import ray._private.services as services

# The project's head listens on loopback only; Ray would rewrite 127.0.0.1 to the host's address.
services.resolve_ip_for_localhost = lambda address: address
ray.init(
    address=os.environ["RTENSOR_RAY_ADDRESS"],
    _node_ip_address=os.environ.get("RTENSOR_RAY_NODE_IP", "127.0.0.1"),
    logging_level="ERROR",
    log_to_driver=False,
)


@ray.remote
class Producer:
    def __init__(self, nbytes, count):
        self.array = np.ones(nbytes, dtype=np.uint8)
        self.count = count

    def produce(self):
        return [ray.put(self.array) for _ in range(self.count)]


@ray.remote
class Consumer:
    def consume(self, refs):
        return sum(int(a.nbytes) for a in ray.get(refs))


def on_node(actor_class, ip):
    return actor_class.options(resources={f"node:{ip}": 0.01}) if ip else actor_class


nbytes = int(sys.argv[1]) if len(sys.argv) > 1 else 64 << 20
count = int(sys.argv[2]) if len(sys.argv) > 2 else 1
producer_ip = sys.argv[3] if len(sys.argv) > 4 else None
consumer_ip = sys.argv[4] if len(sys.argv) > 4 else None
producer = on_node(Producer, producer_ip).remote(nbytes, count)
consumer = on_node(Consumer, consumer_ip).remote()
ray.get(consumer.consume.remote(ray.get(producer.produce.remote())))
print("ready", producer._actor_id.hex(), consumer._actor_id.hex(), flush=True)
for line in sys.stdin:
    if line.strip() != "go":
        break
    refs = ray.get(producer.produce.remote())
    n = ray.get(consumer.consume.remote(refs))
    del refs
    print("done", n, flush=True)
