package io.rtensor.scheduler.ray;

import io.ray.api.Ray;
import io.ray.api.runtimecontext.NodeInfo;
import io.rtensor.scheduler.DeviceType;
import io.rtensor.scheduler.Job;
import io.rtensor.scheduler.PlacementStrategy;
import io.rtensor.scheduler.SchedulingSpec;
import io.rtensor.scheduler.WorkerCreationException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** What the Ray scheduler reads of the cluster, and the resources an actor of a spec asks for. */
final class RayCluster {
  /** Fraction of a single device the main actor holds, so forked actors fit beside it. */
  static final double MAIN_DEVICE_SHARE = 0.9;

  /** Fraction of the device each forked actor holds. */
  static final double FORK_DEVICE_SHARE = 0.01;

  private RayCluster() {}

  /**
   * Refuses a job whose device type the cluster does not declare at all (a job that merely needs
   * more than is free waits for its placement group, and times out).
   */
  static void requireDeviceResource(Job job, Map<String, Double> cluster) {
    DeviceType type = job.spec(0).deviceType();
    if (type == DeviceType.CPU || job.tasks().stream().allMatch(s -> s.devices() == 0)) {
      return;
    }
    if (cluster.getOrDefault(type.resourceName(), 0.0) <= 0) {
      throw new WorkerCreationException(
          job.role(),
          "the job asks for "
              + type
              + " devices but the cluster declares no '"
              + type.resourceName()
              + "' resource (cluster: "
              + cluster
              + ")");
    }
  }

  /** The resources of the alive nodes, summed, without node and placement-group entries. */
  static Map<String, Double> resources() {
    Map<String, Double> total = new LinkedHashMap<>();
    for (NodeInfo node : Ray.getRuntimeContext().getAllNodeInfo()) {
      if (node.isAlive) {
        node.resources.forEach((k, v) -> total.merge(k, v, Double::sum));
      }
    }
    total
        .keySet()
        .removeIf(
            k -> k.startsWith("node:") || k.contains("_group_") || k.startsWith("bundle_group"));
    return total;
  }

  /** The most GPUs any alive node has, at least 1. */
  static int mostGpusOnANode() {
    int most = 0;
    for (NodeInfo node : Ray.getRuntimeContext().getAllNodeInfo()) {
      if (node.isAlive) {
        most = Math.max(most, node.resources.getOrDefault("GPU", 0.0).intValue());
      }
    }
    return Math.max(most, 1);
  }

  /** The resources the main actor of a spec holds in its bundle. */
  static Map<String, Double> actorResources(SchedulingSpec spec) {
    Map<String, Double> resources = new LinkedHashMap<>();
    if (spec.placement() == PlacementStrategy.DEFERRED) {
      // The engine launches its own device servers into the reserved group; the actor holds
      // nothing.
      resources.put("CPU", 0.0);
      return resources;
    }
    resources.put("CPU", spec.cpu());
    if (spec.devices() == 1) {
      resources.put(spec.deviceType().resourceName(), MAIN_DEVICE_SHARE);
    } else if (spec.devices() > 1) {
      resources.put(spec.deviceType().resourceName(), (double) spec.devices());
    }
    if (spec.memoryBytes() > 0) {
      resources.put("memory", (double) spec.memoryBytes());
    }
    return resources;
  }

  /** DEFERRED: the bundle a rank's share of devices falls in. */
  static int bundleOfRank(List<Map<String, Double>> bundles, Job job, int rank) {
    long before = 0;
    for (int i = 0; i < rank; i++) {
      before += job.spec(i).devices();
    }
    String resource = job.spec(0).deviceType().resourceName();
    long seen = 0;
    for (int b = 0; b < bundles.size(); b++) {
      seen += bundles.get(b).getOrDefault(resource, 0.0).longValue();
      if (before < seen) {
        return b;
      }
    }
    return 0;
  }
}
