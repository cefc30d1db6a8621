package io.rtensor.architecture;

import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/**
 * rtensor-core is what a controller using only the local scheduler and Flight depends on: Ray must
 * not be on its class path (this test runs on core's own test class path, which is its dependency
 * tree plus test libraries).
 */
class CoreWithoutRayTest {

  @Test
  void noRayClassIsOnTheCoreClassPath() {
    for (String rayClass :
        new String[] {
          "io.ray.api.Ray", "io.ray.runtime.RayNativeRuntime", "io.ray.api.ObjectRef"
        }) {
      assertThrows(
          ClassNotFoundException.class,
          () -> Class.forName(rayClass, false, CoreWithoutRayTest.class.getClassLoader()),
          rayClass + " is on rtensor-core's class path");
    }
  }
}
