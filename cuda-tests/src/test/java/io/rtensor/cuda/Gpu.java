package io.rtensor.cuda;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.rtensor.device.DeviceRuntime;
import io.rtensor.device.DeviceRuntimes;
import io.rtensor.device.RuntimeKind;
import io.rtensor.device.RuntimeUnavailableException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Finds the real CUDA driver, or skips the calling test with a printed reason. With the system
 * property {@value #ON_FAKE} set to {@code true} (the GPU bundle's self-test), the project's fake
 * CUDA driver named by {@code RTENSOR_CUDA_LIBRARY} stands in for a GPU: a check of the tests'
 * plumbing, not of a GPU.
 */
final class Gpu {
  /** The system property that lets the fake CUDA driver stand in for a GPU. */
  static final String ON_FAKE = "rtensor.cuda-tests.on-fake";

  private Gpu() {}

  /** Why there is no usable GPU here, or null when there is one. */
  static String missingReason() {
    if (Boolean.getBoolean(ON_FAKE)) {
      try {
        DeviceRuntime cuda = DeviceRuntimes.get(RuntimeKind.CUDA);
        return !cuda.isFake()
            ? ON_FAKE + " is set but the CUDA driver loaded is not the fake"
            : cuda.deviceCount() > 0 ? null : "the fake CUDA driver shows no device";
      } catch (RuntimeUnavailableException e) {
        return "the fake CUDA driver did not load: " + e.errorText();
      }
    }
    if (!Files.exists(Path.of("/proc/driver/nvidia/version"))) {
      return "no NVIDIA driver (/proc/driver/nvidia/version is absent)";
    }
    try {
      DeviceRuntime cuda = DeviceRuntimes.get(RuntimeKind.CUDA);
      return cuda.deviceCount() > 0 ? null : "the CUDA driver reports no device";
    } catch (RuntimeUnavailableException e) {
      return "the CUDA driver did not load: " + e.errorText();
    }
  }

  /** The CUDA runtime; skips the test (and says why) when there is none. */
  static DeviceRuntime cudaOrSkip() {
    String reason = missingReason();
    if (reason != null) {
      System.out.println("[cuda-tests] skipped: " + reason);
    }
    assumeTrue(reason == null, reason);
    return DeviceRuntimes.get(RuntimeKind.CUDA);
  }
}
