package io.rtensor.testing.engines;

import io.rtensor.device.DeviceRuntime;
import io.rtensor.device.DeviceRuntimes;
import io.rtensor.device.RuntimeKind;
import io.rtensor.engine.Engine;
import io.rtensor.engine.EngineContext;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * An engine that opens the CUDA runtime its worker sees and says which physical device is its 0.
 */
public class DeviceEngine implements Engine {
  private EngineContext context;

  public DeviceEngine() {}

  /**
   * The environment a worker needs to load the project's fake CUDA driver (built by the native
   * module's tests) on a machine of {@code devices} physical GPUs.
   */
  public static Map<String, String> fakeCudaEnv(int devices) {
    return fakeRuntimeEnv(RuntimeKind.CUDA, devices);
  }

  /**
   * The environment a worker needs to load the project's fake runtime of {@code kind} (CUDA or
   * Ascend, built by the native module's tests) on a machine of {@code devices} physical devices.
   */
  public static Map<String, String> fakeRuntimeEnv(RuntimeKind kind, int devices) {
    String file =
        switch (kind) {
          case CUDA -> "libfakecuda.so";
          case ASCEND -> "libfakeacl.so";
          case CPU -> throw new IllegalArgumentException("the CPU backend has no fake runtime");
        };
    Path lib =
        Path.of(System.getProperty("rtensor.root", "."), "native", "target", "fake")
            .resolve(file)
            .toAbsolutePath()
            .normalize();
    if (!Files.isRegularFile(lib)) {
      throw new IllegalStateException(
          "no fake " + kind + " runtime at " + lib + ": build the native module");
    }
    return Map.of(
        kind.libraryEnvironment(),
        lib.toString(),
        "RTENSOR_FAKE_DEVICE_COUNT",
        Integer.toString(devices));
  }

  @Override
  public void initialize(EngineContext context) {
    this.context = context;
  }

  private static DeviceRuntime cuda() {
    return DeviceRuntimes.get(RuntimeKind.CUDA);
  }

  /** The physical identity of this worker's device 0 (its PCI bus id). */
  public String physicalId() {
    return cuda().physicalId(0);
  }

  /** How many devices this worker's runtime shows. */
  public int deviceCount() {
    return cuda().deviceCount();
  }

  /** The device ids the scheduler assigned, as the engine's context has them. */
  public List<Integer> assignedDevices() {
    return context.deviceIds();
  }
}
