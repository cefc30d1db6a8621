package io.rtensor.device;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

/**
 * Runs the contract against a fake runtime and fails any test that leaks device or pinned memory.
 */
abstract class FakeRuntimeTestBase extends DeviceRuntimeContract {
  private long deviceBytesBefore;
  private long pinnedBytesBefore;

  abstract RuntimeKind kind();

  @Override
  DeviceRuntime runtime() {
    return DeviceRuntimes.get(kind());
  }

  @BeforeEach
  void recordLiveMemory() {
    runtime();
    FakeRuntime.reset(kind());
    deviceBytesBefore = FakeRuntime.liveBytes(kind(), FakeRuntime.DEVICE_MEMORY);
    pinnedBytesBefore = FakeRuntime.liveBytes(kind(), FakeRuntime.PINNED_MEMORY);
  }

  @AfterEach
  void everythingAllocatedWasFreed() {
    FakeRuntime.reset(kind());
    assertEquals(
        deviceBytesBefore,
        FakeRuntime.liveBytes(kind(), FakeRuntime.DEVICE_MEMORY),
        "device memory leaked");
    assertEquals(
        pinnedBytesBefore,
        FakeRuntime.liveBytes(kind(), FakeRuntime.PINNED_MEMORY),
        "pinned memory leaked");
  }

  @Override
  void slowCopies(boolean slow) {
    FakeRuntime.setCopyDelayMicros(kind(), slow ? 20_000 : 0);
  }
}
