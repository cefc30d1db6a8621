package io.rtensor.bench;

import io.rtensor.device.Device;
import io.rtensor.device.DeviceBuffer;
import io.rtensor.device.HostMemory;
import io.rtensor.device.NativeHost;
import io.rtensor.transport.SeededBytes;
import org.apache.arrow.memory.util.MemoryUtil;

/**
 * The bytes the device benchmarks move: {@link SeededBytes} of a seed, so that every byte a copy
 * delivered is checked against the seed (a native checksum of the received bytes against the one
 * the seed gives), on a real device and on a fake runtime alike.
 */
final class DeviceBytes {
  private DeviceBytes() {}

  /** Writes the bytes of {@code seed} into {@code staging} and copies them onto {@code target}. */
  static void seed(Device device, HostMemory staging, DeviceBuffer target, long seed) {
    long n = target.size();
    SeededBytes.fill(staging.address(), n, seed);
    device.copyToDevice(staging, 0, target, 0, n);
  }

  /** Sets every byte of {@code memory} to 0. */
  static void clear(HostMemory memory) {
    MemoryUtil.setMemory(memory.address(), memory.size(), (byte) 0);
  }

  /**
   * Checks that {@code memory} holds the first {@code memory.size()} bytes of {@code seed}.
   *
   * @throws IllegalStateException naming {@code what} when a byte differs
   */
  static void check(String what, HostMemory memory, long seed) {
    check(what, memory.address(), memory.size(), seed);
  }

  /** As {@link #check(String, HostMemory, long)} for {@code length} bytes at {@code address}. */
  static void check(String what, long address, long length, long seed) {
    if (NativeHost.checksum(address, length) != SeededBytes.checksum(seed, length)) {
      throw new IllegalStateException(
          what + " delivered wrong bytes (" + length + " bytes checked against seed " + seed + ")");
    }
  }
}
