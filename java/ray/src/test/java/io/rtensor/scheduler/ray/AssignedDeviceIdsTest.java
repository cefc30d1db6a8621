package io.rtensor.scheduler.ray;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.ray.api.runtimecontext.ResourceValue;
import java.lang.reflect.Constructor;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** How an actor reads the device ids Ray assigned it from its resource ids. */
class AssignedDeviceIdsTest {

  private static ResourceValue value(long id, double capacity) throws Exception {
    // Ray makes these; its constructor is package-private.
    Constructor<ResourceValue> c =
        ResourceValue.class.getDeclaredConstructor(long.class, double.class);
    c.setAccessible(true);
    return c.newInstance(id, capacity);
  }

  @Test
  void idsComeFromTheResourceAndItsPlacementGroupFormAscendingWithoutOtherResources()
      throws Exception {
    // As Ray 2.39 lists them for an actor in bundle 0 of a group, beside a plain NPU and a GPU.
    Map<String, List<ResourceValue>> ids =
        Map.of(
            "NPU_group_a750969f0cddcf78",
            List.of(value(3, 1.0), value(1, 1.0)),
            "NPU_group_0_a750969f0cddcf78",
            List.of(value(3, 1.0), value(1, 1.0)),
            "bundle_group_a750969f0cddcf78",
            List.of(value(0, 0.001)),
            "GPU",
            List.of(value(2, 1.0)),
            "NPU",
            List.of(value(0, 0.0)),
            "NPUX",
            List.of(value(7, 1.0)));
    assertEquals(List.of(1, 3), RayRpcServer.idsOf("NPU", ids));
    assertEquals(List.of(2), RayRpcServer.idsOf("GPU", ids));
    assertEquals(List.of(), RayRpcServer.idsOf("TPU", ids));
  }
}
