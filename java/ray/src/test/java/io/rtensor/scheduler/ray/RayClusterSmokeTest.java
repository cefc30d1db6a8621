package io.rtensor.scheduler.ray;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ray.api.ActorHandle;
import io.ray.api.ObjectRef;
import io.ray.api.PlacementGroups;
import io.ray.api.Ray;
import io.ray.api.options.PlacementGroupCreationOptions;
import io.ray.api.placementgroup.PlacementGroup;
import io.ray.api.placementgroup.PlacementGroupState;
import io.ray.api.placementgroup.PlacementStrategy;
import io.rtensor.testing.RayTestCluster;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** The real single-node Ray cluster: worker JVMs, the object store and placement groups. */
@Tag("ray")
class RayClusterSmokeTest {

  @BeforeAll
  static void connect() {
    RayTestCluster.connect();
  }

  @Test
  void actorOfAProjectClassRunsInAnotherJvm() {
    ActorHandle<ProbeActor> actor = Ray.actor(ProbeActor::new).remote();
    try {
      long workerPid = actor.task(ProbeActor::pid).remote().get(60_000);
      assertNotEquals(ProcessHandle.current().pid(), workerPid);
      assertTrue(ProcessHandle.of(workerPid).isPresent(), "worker JVM " + workerPid + " is alive");
      assertEquals(
          1 << 20, (int) actor.task(ProbeActor::length, new byte[1 << 20]).remote().get(60_000));
    } finally {
      actor.kill();
    }
  }

  @Test
  void sixtyFourMebibyteArrayRoundTripsThroughTheObjectStore() {
    byte[] bytes = new byte[64 << 20];
    new Random(42).nextBytes(bytes);
    ObjectRef<byte[]> ref = Ray.put(bytes);
    byte[] back = ref.get(60_000);
    assertArrayEquals(bytes, back);
  }

  @Test
  void actorInBundleOneOfAGpuPlacementGroupSeesAnAssignedGpu() {
    PlacementGroup group =
        PlacementGroups.createPlacementGroup(
            new PlacementGroupCreationOptions.Builder()
                .setName("smoke-gpu-" + System.nanoTime())
                .setBundles(List.of(Map.of("GPU", 1.0, "CPU", 1.0), Map.of("GPU", 1.0, "CPU", 1.0)))
                .setStrategy(PlacementStrategy.PACK)
                .build());
    try {
      assertTrue(group.wait(60), "a group of two 1-GPU bundles becomes ready");
      ActorHandle<ProbeActor> actor =
          Ray.actor(ProbeActor::new).setPlacementGroup(group, 1).setResource("GPU", 1.0).remote();
      try {
        List<Long> gpus = actor.task(ProbeActor::gpuIds).remote().get(60_000);
        assertEquals(1, gpus.size(), "one GPU id assigned: " + gpus);
        assertTrue(gpus.get(0) >= 0 && gpus.get(0) < 4, "a GPU id the head declares: " + gpus);
      } finally {
        actor.kill();
      }
    } finally {
      PlacementGroups.removePlacementGroup(group.getId());
    }
    assertEquals(
        PlacementGroupState.REMOVED, PlacementGroups.getPlacementGroup(group.getId()).getState());
  }

  @Test
  void groupAskingForMoreGpusThanTheHeadDeclaresNeverBecomesReadyAndIsRemoved() {
    PlacementGroup group =
        PlacementGroups.createPlacementGroup(
            new PlacementGroupCreationOptions.Builder()
                .setName("smoke-infeasible-" + System.nanoTime())
                .setBundles(List.of(Map.of("GPU", 1000.0)))
                .setStrategy(PlacementStrategy.PACK)
                .build());
    try {
      assertFalse(group.wait(3), "an infeasible group is not ready within its timeout");
    } finally {
      PlacementGroups.removePlacementGroup(group.getId());
    }
    assertEquals(
        PlacementGroupState.REMOVED, PlacementGroups.getPlacementGroup(group.getId()).getState());
  }
}
