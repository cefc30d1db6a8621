"""Python baseline of the Ray object store comparison (RayObjectStoreBenchmark, ./rtensor bench):
ray.put of a numpy array (argv[1] bytes, default 64 MiB) in one actor and ray.get of it in another,
on the cluster at RTENSOR_RAY_ADDRESS. Prints 'ready', then runs one put + get for every 'go' line
on stdin and answers 'done <bytes>'."""
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
    def __init__(self, nbytes):
        self.array = np.ones(nbytes, dtype=np.uint8)

    def produce(self):
        return [ray.put(self.array)]


@ray.remote
class Consumer:
    def consume(self, refs):
        return int(ray.get(refs[0]).nbytes)


producer = Producer.remote(int(sys.argv[1]) if len(sys.argv) > 1 else 64 << 20)
consumer = Consumer.remote()
ray.get(consumer.consume.remote(ray.get(producer.produce.remote())))
print("ready", flush=True)
for line in sys.stdin:
    if line.strip() != "go":
        break
    refs = ray.get(producer.produce.remote())
    n = ray.get(consumer.consume.remote(refs))
    del refs
    print("done", n, flush=True)
