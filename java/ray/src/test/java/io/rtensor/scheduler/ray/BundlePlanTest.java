package io.rtensor.scheduler.ray;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.rtensor.scheduler.DeviceType;
import io.rtensor.scheduler.Job;
import io.rtensor.scheduler.PlacementStrategy;
import io.rtensor.scheduler.SchedulingSpec;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class BundlePlanTest {

  private static Job job(int replicas, SchedulingSpec spec) {
    return Job.builder("r").replicas(replicas).task(spec).build();
  }

  @Test
  void deferredSplitsTwentyFourGpusAtSixteenPerNodeIntoSixteenAndEight() {
    SchedulingSpec spec =
        SchedulingSpec.builder()
            .cpu(3)
            .gpu(1)
            .memoryBytes(1L << 30)
            .placement(PlacementStrategy.DEFERRED)
            .build();
    List<List<Map<String, Double>>> groups = BundlePlan.groups(job(24, spec), 16);
    assertEquals(1, groups.size());
    List<Map<String, Double>> bundles = groups.get(0);
    assertEquals(2, bundles.size());
    assertEquals(16.0, bundles.get(0).get("GPU"));
    assertEquals(8.0, bundles.get(1).get("GPU"));
    assertEquals(48.0, bundles.get(0).get("CPU"), 1e-9);
    assertEquals(24.0, bundles.get(1).get("CPU"), 1e-9);
    assertEquals(16.0 * (1L << 30), bundles.get(0).get("memory"));
    assertEquals(8.0 * (1L << 30), bundles.get(1).get("memory"));
  }

  @Test
  void deferredUsesTheDeviceResourceOfTheJob() {
    SchedulingSpec spec =
        SchedulingSpec.builder()
            .devices(2, DeviceType.NPU)
            .placement(PlacementStrategy.DEFERRED)
            .build();
    List<Map<String, Double>> bundles = BundlePlan.groups(job(3, spec), 4).get(0);
    assertEquals(List.of(4.0, 2.0), bundles.stream().map(b -> b.get("NPU")).toList());
  }

  @Test
  void sharedIsOneGroupWithABundlePerRankAndSeparateIsAGroupPerRank() {
    SchedulingSpec shared = SchedulingSpec.builder().cpu(2).gpu(1).build();
    List<List<Map<String, Double>>> one = BundlePlan.groups(job(3, shared), 8);
    assertEquals(1, one.size());
    assertEquals(3, one.get(0).size());
    assertEquals(Map.of("CPU", 2.0, "GPU", 1.0), one.get(0).get(0));

    SchedulingSpec separate =
        SchedulingSpec.builder().cpu(2).gpu(1).placement(PlacementStrategy.SEPARATE).build();
    List<List<Map<String, Double>>> many = BundlePlan.groups(job(3, separate), 8);
    assertEquals(3, many.size());
    many.forEach(g -> assertEquals(1, g.size()));
    assertEquals(Map.of("CPU", 6.0, "GPU", 3.0), BundlePlan.total(many));
  }

  @Test
  void jobForADeviceTheClusterDoesNotDeclareIsRefusedWithTheClusterNamed() {
    Job npuJob = job(1, SchedulingSpec.builder().devices(1, DeviceType.NPU).build());
    io.rtensor.scheduler.WorkerCreationException e =
        assertThrows(
            io.rtensor.scheduler.WorkerCreationException.class,
            () -> RayCluster.requireDeviceResource(npuJob, Map.of("CPU", 8.0, "GPU", 4.0)));
    assertEquals("r", e.role());
    org.junit.jupiter.api.Assertions.assertTrue(
        e.getMessage().contains("no 'NPU' resource"), e.getMessage());
    RayCluster.requireDeviceResource(npuJob, Map.of("CPU", 8.0, "NPU", 2.0));
    RayCluster.requireDeviceResource(job(1, SchedulingSpec.builder().build()), Map.of("CPU", 1.0));
  }

  @Test
  void deferredRejectsANonPositiveNodeSize() {
    SchedulingSpec spec =
        SchedulingSpec.builder().gpu(1).placement(PlacementStrategy.DEFERRED).build();
    assertThrows(IllegalArgumentException.class, () -> BundlePlan.groups(job(2, spec), 0));
  }
}
