package io.rtensor.scheduler.ray;

import io.ray.api.Ray;
import io.ray.api.id.UniqueId;
import io.ray.api.runtimecontext.NodeInfo;
import io.rtensor.handle.RTensor;
import io.rtensor.scheduler.CallOptions;
import io.rtensor.scheduler.Worker;
import io.rtensor.tensor.Tensor;
import io.rtensor.testing.NodeEngine;
import io.rtensor.testing.RayTestCluster;
import io.rtensor.testing.engines.TensorEngine;
import io.rtensor.transport.DataPlaneKind;
import java.time.Duration;
import java.util.List;
import org.apache.arrow.memory.RootAllocator;

/**
 * A controller whose driver runs on the cluster's second node: started by {@link
 * FlightAcrossNodesTest} in its own JVM with only the documented settings ({@code
 * RTENSOR_RAY_ADDRESS}, and {@code RTENSOR_RAY_NODE_IP} naming the node its raylet was started on).
 * It connects, runs a Flight-plane scheduler with a worker on each node, remotizes a tensor from
 * its own store and has both workers sum it, then prints what it saw as {@code key=value} lines and
 * {@code done}.
 */
public final class SecondNodeDriver {
  private SecondNodeDriver() {}

  public static void main(String[] args) {
    RayConnection connection =
        RayConnection.builder().codeSearchPath(RayTestCluster.codeSearchPath()).connect();
    try {
      UniqueId current = Ray.getRuntimeContext().getCurrentNodeId();
      for (NodeInfo node : Ray.getRuntimeContext().getAllNodeInfo()) {
        if (node.nodeId.equals(current)) {
          System.out.println("driver-node=" + node.nodeAddress);
        }
      }
      CallOptions quick = CallOptions.DEFAULT.withTimeout(Duration.ofSeconds(120));
      try (RayScheduler scheduler =
              RayScheduler.builder()
                  .dataPlane(DataPlaneKind.FLIGHT)
                  .nGpusPerNode(4)
                  .startupTimeout(Duration.ofSeconds(240))
                  .build();
          RootAllocator root = new RootAllocator()) {
        List<Worker> workers = scheduler.createWorkers(FlightAcrossNodesTest.oneOnEachNode("far"));
        int[] values = new int[1000];
        long expected = 0;
        for (int i = 0; i < values.length; i++) {
          values[i] = i * 3;
          expected += values[i];
        }
        Object remote;
        try (Tensor t = Tensor.of(root, values)) {
          remote = scheduler.dataPlane().remotize(t);
        }
        System.out.println("controller-store=" + ((RTensor) remote).location().key());
        for (Worker w : workers) {
          scheduler.createEngine(w.id(), NodeEngine.class.getName(), "node");
          scheduler.createEngine(w.id(), TensorEngine.class.getName(), "tensor");
          String ip = (String) scheduler.callEngine(w.id(), "nodeIp", "node", quick);
          long sum = (Long) scheduler.callEngine(w.id(), "sumInts", "tensor", quick, remote);
          System.out.println("worker=" + ip + " sum=" + sum + " expected=" + expected);
        }
        scheduler.clearShards(remote);
      }
      System.out.println("done");
    } finally {
      connection.close();
    }
  }
}
