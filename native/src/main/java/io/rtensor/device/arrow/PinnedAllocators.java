package io.rtensor.device.arrow;

import io.rtensor.device.Device;
import io.rtensor.device.DeviceRuntime;
import io.rtensor.device.DeviceRuntimes;
import org.apache.arrow.memory.rounding.DefaultRoundingPolicy;
import org.apache.arrow.memory.rounding.RoundingPolicy;

/** Factories of Arrow allocators whose memory is page-locked by a device runtime. */
public final class PinnedAllocators {
  private PinnedAllocators() {}

  /**
   * An allocator pinning memory through {@code device}'s runtime, holding at most {@code capBytes}
   * (in use and cached together).
   */
  public static PinnedBufferAllocator create(Device device, long capBytes) {
    return create(device, capBytes, DefaultRoundingPolicy.DEFAULT_ROUNDING_POLICY);
  }

  /**
   * As {@link #create(Device, long)}, rounding request sizes by {@code rounding} before they reach
   * the pool (a fine policy makes a cap on a child allocator count what its buffers hold).
   */
  public static PinnedBufferAllocator create(
      Device device, long capBytes, RoundingPolicy rounding) {
    return new PinnedBufferAllocator(new PinnedMemoryPool(device, capBytes), capBytes, rounding);
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
