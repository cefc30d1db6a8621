package io.rtensor.device;

import java.util.ArrayList;
import java.util.List;

/**
 * One device runtime (CPU, CUDA or Ascend), loaded at run time. Obtain one from {@link
 * DeviceRuntimes}; a runtime lives as long as the process. The resources it hands out (buffers,
 * streams, events) are {@link AutoCloseable} with one owner.
 */
public interface DeviceRuntime {
  /** Which runtime this is. */
  RuntimeKind kind();

  /** The library file it was loaded from; empty for the CPU. */
  String library();

  /** The driver version the runtime reports (CUDA: 1000 * major + 10 * minor), or 0. */
  int driverVersion();

  /**
   * Number of devices visible to this process: those its visibility variable shows ({@link
   * DeviceVisibility}); 0 when it shows none.
   */
  int deviceCount();

  /**
   * A device by ordinal.
   *
   * @throws IllegalArgumentException if there is no such device
   */
  Device device(int index);

  /**
   * Which physical device an ordinal of this process is (see {@link Device#physicalId()}): with
   * {@code CUDA_VISIBLE_DEVICES=2,0}, ordinal 0 is physical device 2.
   *
   * @throws IllegalArgumentException if there is no such device
   */
  default String physicalId(int ordinal) {
    return device(ordinal).physicalId();
  }

  /**
   * Whether the library loaded is one of the project's fake runtimes (ABI-compatible stand-ins
   * backed by host memory, which CPU-only tests load): work done through it checks correctness,
   * never speed.
   */
  boolean isFake();

  /** Whether {@link Device#createEvent()} is available (CPU and CUDA; not Ascend). */
  boolean supportsEvents();

  /**
   * Gives back what rtensor holds per device: the CUDA primary contexts it retained (retained again
   * on next use), or for Ascend the calling thread's device and ACL itself ({@code
   * aclrtResetDevice}, {@code aclFinalize}; initialised again on next use). Call it when no other
   * thread uses the runtime, after closing its buffers and streams.
   */
  void releaseDevices();

  /** All devices, in ordinal order. */
  default List<Device> devices() {
    int n = deviceCount();
    List<Device> all = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      all.add(device(i));
    }
    return List.copyOf(all);
  }
}
