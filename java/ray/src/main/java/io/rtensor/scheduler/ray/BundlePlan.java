package io.rtensor.scheduler.ray;

import io.rtensor.scheduler.DeviceType;
import io.rtensor.scheduler.Job;
import io.rtensor.scheduler.PlacementStrategy;
import io.rtensor.scheduler.SchedulingSpec;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The placement-group bundles a job reserves: pure arithmetic, no cluster access.
 *
 * <ul>
 *   <li>SHARED: one group, one bundle per rank.
 *   <li>SEPARATE: one group per rank, one bundle each.
 *   <li>DEFERRED: one group whose bundles hold the job's devices split by devices per node (24 GPUs
 *       at 16 per node: 16 and 8), CPU and memory split in proportion.
 * </ul>
 */
public final class BundlePlan {
  private BundlePlan() {}

  /** The bundles of each placement group the job needs, group by group. */
  public static List<List<Map<String, Double>>> groups(Job job, int devicesPerNode) {
    PlacementStrategy placement = job.spec(0).placement();
    List<List<Map<String, Double>>> groups = new ArrayList<>();
    switch (placement) {
      case SHARED -> {
        List<Map<String, Double>> bundles = new ArrayList<>();
        for (int i = 0; i < job.replicas(); i++) {
          bundles.add(bundle(job.spec(i)));
        }
        groups.add(bundles);
      }
      case SEPARATE -> {
        for (int i = 0; i < job.replicas(); i++) {
          groups.add(List.of(bundle(job.spec(i))));
        }
      }
      case DEFERRED -> groups.add(deferred(job, devicesPerNode));
    }
    return groups;
  }

  /** The resources of one task as a Ray bundle. */
  static Map<String, Double> bundle(SchedulingSpec spec) {
    Map<String, Double> bundle = new LinkedHashMap<>();
    bundle.put("CPU", spec.cpu());
    if (spec.devices() > 0) {
      bundle.put(spec.deviceType().resourceName(), (double) spec.devices());
    }
    if (spec.memoryBytes() > 0) {
      bundle.put("memory", (double) spec.memoryBytes());
    }
    return bundle;
  }

  /** DEFERRED: the job's total devices in node-sized bundles, CPU and memory in proportion. */
  static List<Map<String, Double>> deferred(Job job, int devicesPerNode) {
    if (devicesPerNode <= 0) {
      throw new IllegalArgumentException("devices per node must be > 0, got " + devicesPerNode);
    }
    long devices = 0;
    double cpu = 0;
    double memory = 0;
    DeviceType type = job.spec(0).deviceType();
    for (int i = 0; i < job.replicas(); i++) {
      devices += job.spec(i).devices();
      cpu += job.spec(i).cpu();
      memory += job.spec(i).memoryBytes();
    }
    List<Map<String, Double>> bundles = new ArrayList<>();
    if (devices == 0) {
      Map<String, Double> bundle = new LinkedHashMap<>();
      bundle.put("CPU", cpu);
      if (memory > 0) {
        bundle.put("memory", memory);
      }
      bundles.add(bundle);
      return bundles;
    }
    long left = devices;
    while (left > 0) {
      long take = Math.min(left, devicesPerNode);
      double share = (double) take / devices;
      Map<String, Double> bundle = new LinkedHashMap<>();
      bundle.put("CPU", cpu * share);
      bundle.put(type.resourceName(), (double) take);
      if (memory > 0) {
        bundle.put("memory", Math.floor(memory * share));
      }
      bundles.add(bundle);
      left -= take;
    }
    return bundles;
  }

  /** The sum of every bundle's resources. */
  public static Map<String, Double> total(List<List<Map<String, Double>>> groups) {
    Map<String, Double> total = new LinkedHashMap<>();
    for (List<Map<String, Double>> group : groups) {
      for (Map<String, Double> bundle : group) {
        bundle.forEach((k, v) -> total.merge(k, v, Double::sum));
      }
    }
    return total;
  }
}
