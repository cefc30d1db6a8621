package io.rtensor.device;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class CpuRuntimeTest extends DeviceRuntimeContract {

  @Override
  DeviceRuntime runtime() {
    return DeviceRuntimes.cpu();
  }

  @Test
  void cpuBackendHasOneDeviceAndNoLibrary() {
    assertEquals(RuntimeKind.CPU, runtime().kind());
    assertEquals(1, runtime().deviceCount());
    assertEquals("", runtime().library());
    assertTrue(runtime().supportsEvents());
    assertEquals(false, runtime().isFake());
  }

  @Test
  void cpuHostBuffersAreNotPageLocked() {
    try (HostBuffer b = runtime().device(0).allocateHost(4096)) {
      assertEquals(false, b.memory().pinned());
    }
  }
}
