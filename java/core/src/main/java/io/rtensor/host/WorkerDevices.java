package io.rtensor.host;

import io.rtensor.device.Device;
import io.rtensor.device.DeviceRuntime;
import io.rtensor.device.DeviceRuntimes;
import io.rtensor.device.RuntimeKind;
import io.rtensor.device.arrow.PinnedAllocators;
import io.rtensor.transport.FlightShardServerMain;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.rounding.SegmentRoundingPolicy;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The device a worker computes on and the memory it keeps shards in, the same on every scheduler: a
 * worker given devices computes on its device 0 (the first it was assigned, which the scheduler
 * made the first visible), and its Arrow memory is page-locked, so shards are stored and fetched
 * where a DMA reaches them directly.
 */
public final class WorkerDevices {
  private static final Logger LOG = LoggerFactory.getLogger(WorkerDevices.class);

  /** Page-locked bytes a worker with a device holds beyond its store and cache caps (buffers). */
  public static final long PAGE_LOCKED_SLACK_BYTES = 256L << 20;

  private WorkerDevices() {}

  /**
   * Device 0 of the first device runtime that loads, for a worker given {@code deviceIds}; null
   * where it was given none or no device runtime loads (it then runs on host memory alone).
   */
  public static Device open(String workerId, List<Integer> deviceIds) {
    if (deviceIds.isEmpty()) {
      return null;
    }
    DeviceRuntime runtime = DeviceRuntimes.best();
    if (runtime.kind() == RuntimeKind.CPU) {
      LOG.warn(
          "rtensor worker {}: devices {} were assigned but no device runtime loads here",
          workerId,
          deviceIds);
      return null;
    }
    return runtime.device(0);
  }

  /**
   * The root allocator of a worker whose store and cache may hold {@code capsBytes}: page-locked
   * for {@code device} (up to the caps and {@link #PAGE_LOCKED_SLACK_BYTES}, allocations rounded to
   * 4 KiB, not powers of two, so the store's cap counts what it holds), plain where it is null.
   */
  public static BufferAllocator rootAllocator(Device device, long capsBytes) {
    return device == null
        ? FlightShardServerMain.newRootAllocator()
        : PinnedAllocators.create(
            device, capsBytes + PAGE_LOCKED_SLACK_BYTES, new SegmentRoundingPolicy(4096));
  }
}
