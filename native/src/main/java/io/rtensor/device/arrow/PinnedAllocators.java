package io.rtensor.device.arrow;

import io.rtensor.device.Device;
import io.rtensor.device.DeviceRuntime;
import io.rtensor.device.DeviceRuntimes;

/** Factories of Arrow allocators whose memory is page-locked by a device runtime. */
public final class PinnedAllocators {
  private PinnedAllocators() {}

  /**
   * An allocator pinning memory through {@code device}'s runtime, holding at most {@code capBytes}
   * (in use and cached together).
   */
  public static PinnedBufferAllocator create(Device device, long capBytes) {
    return new PinnedBufferAllocator(new PinnedMemoryPool(device, capBytes), capBytes);
  }

  /** An allocator pinning memory for device 0 of a runtime. */
  public static PinnedBufferAllocator create(DeviceRuntime runtime, long capBytes) {
    return create(runtime.device(0), capBytes);
  }

  /**
   * An allocator pinning memory through whichever device runtime loads (CUDA, then Ascend), with
   * ordinary host memory when none does.
   */
  public static PinnedBufferAllocator create(long capBytes) {
    return create(DeviceRuntimes.best(), capBytes);
  }
}
