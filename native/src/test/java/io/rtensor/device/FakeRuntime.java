package io.rtensor.device;

import io.rtensor.device.internal.DeviceOps;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** Test access to the control entry points of the fake runtimes the tests load. */
final class FakeRuntime {
  static final int DEVICE_MEMORY = 0;
  static final int PINNED_MEMORY = 1;
  static final int REGISTERED_MEMORY = 2;

  /** Counters of {@link #copiedBytes}: bytes the fake copied, by direction. */
  static final int COPIED_H2D = 0;

  static final int COPIED_D2H = 1;
  static final int COPIED_D2D = 2;

  /** Host-to-host bytes: staging copies rtensor made for the runtime, and ACL HOST_TO_HOST. */
  static final int COPIED_H2H = 3;

  /** Host-to-device bytes read from pageable memory (neither page-locked nor registered). */
  static final int COPIED_H2D_FROM_PAGEABLE = 4;

  /** Device-to-host bytes written into pageable memory. */
  static final int COPIED_D2H_INTO_PAGEABLE = 5;

  private FakeRuntime() {}

  /** The directory the test build put the fake libraries in. */
  static Path directory() {
    String dir = System.getProperty("rtensor.fake.dir");
    if (dir == null) {
      throw new IllegalStateException("rtensor.fake.dir is not set: run the tests through Maven");
    }
    return Path.of(dir);
  }

  /**
   * A JVM of its own running {@code main} with {@code args}: this JVM's class path and the
   * properties that load the fake runtimes, its output and errors in one stream.
   */
  static ProcessBuilder childJvm(Class<?> main, String... args) {
    List<String> command =
        new ArrayList<>(
            List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp",
                System.getProperty("java.class.path"),
                "-Drtensor.cuda.library=" + System.getProperty("rtensor.cuda.library"),
                "-Drtensor.acl.library=" + System.getProperty("rtensor.acl.library"),
                "-Drtensor.fake.dir=" + directory(),
                main.getName()));
    command.addAll(List.of(args));
    return new ProcessBuilder(command).redirectErrorStream(true);
  }

  /**
   * A child JVM's report: each {@code key=value} line of its output, and the whole output under
   * {@code "output"}.
   */
  static Map<String, String> report(String out) {
    Map<String, String> report = new HashMap<>();
    for (String line : out.split("\n")) {
      int eq = line.indexOf('=');
      if (eq > 0) {
        report.put(line.substring(0, eq), line.substring(eq + 1));
      }
    }
    report.put("output", out);
    return report;
  }

  static void injectError(RuntimeKind kind, String function, int code, int afterCalls) {
    check(DeviceOps.fake_inject_error(kind.backend(), function, code, afterCalls));
  }

  static long calls(RuntimeKind kind, String function) {
    long n = DeviceOps.fake_call_count(kind.backend(), function);
    if (n < 0) {
      throw new IllegalStateException("the loaded " + kind + " runtime is not the fake");
    }
    return n;
  }

  static long liveBytes(RuntimeKind kind, int memoryKind) {
    return DeviceOps.fake_live_bytes(kind.backend(), memoryKind);
  }

  /** Bytes copied since the fake loaded, by counter ({@code COPIED_*}). */
  static long copiedBytes(RuntimeKind kind, int counter) {
    long n = DeviceOps.fake_copied_bytes(kind.backend(), counter);
    if (n < 0) {
      throw new IllegalStateException("the loaded " + kind + " runtime is not the fake");
    }
    return n;
  }

  /** All counters at once, to compare before and after a copy. */
  static long[] copiedBytes(RuntimeKind kind) {
    long[] all = new long[6];
    for (int i = 0; i < all.length; i++) {
      all[i] = copiedBytes(kind, i);
    }
    return all;
  }

  /** Counters of the fake's DLPack producer ({@link #dlpackCount}). */
  static final int DLPACK_MADE = 0;

  static final int DLPACK_DELETER_CALLS = 1;

  /** Deleter calls on a tensor whose deleter had already run: never legitimate. */
  static final int DLPACK_REPEATED_DELETES = 2;

  static final int DLPACK_LIVE = 3;

  /**
   * A {@code DLManagedTensor} made by the fake, as a framework would export one: memory on the
   * fake's device (device type kDLCUDA or kDLAscend) or host memory, holding {@link
   * HostBytes#pattern} of {@code seed} from {@code byteOffset}; {@code strides} may be null.
   */
  static long dlpackMake(
      RuntimeKind kind,
      int deviceType,
      int deviceId,
      int code,
      int bits,
      int lanes,
      long[] shape,
      long[] strides,
      long byteOffset,
      int seed) {
    long address =
        DeviceOps.fake_dlpack_make(
            kind.backend(),
            deviceType,
            deviceId,
            code,
            bits,
            lanes,
            shape.length,
            shape,
            strides,
            byteOffset,
            seed);
    if (address == 0) {
      throw new IllegalStateException("the loaded " + kind + " runtime is not the fake");
    }
    return address;
  }

  static long dlpackCount(RuntimeKind kind, int which) {
    return DeviceOps.fake_dlpack_count(kind.backend(), which);
  }

  static void setCopyDelayMicros(RuntimeKind kind, int micros) {
    check(DeviceOps.fake_set_copy_delay_us(kind.backend(), micros));
  }

  /** IPC mappings the fake CUDA driver holds open in this process (each open not yet closed). */
  static long ipcOpenMappings() {
    long n = DeviceOps.fake_ipc_open_mappings(RuntimeKind.CUDA.backend());
    if (n < 0) {
      throw new IllegalStateException("the loaded CUDA runtime is not the fake");
    }
    return n;
  }

  static void reset(RuntimeKind kind) {
    check(DeviceOps.fake_reset(kind.backend()));
  }

  /**
   * The physical devices the fake shows for a value of its visibility variable (null: unset) on a
   * machine of {@code physicalDevices} devices, in ordinal order.
   */
  static List<Integer> parseVisible(RuntimeKind kind, String value, int physicalDevices) {
    int[] out = new int[64];
    int n = DeviceOps.fake_parse_visible(kind.backend(), value, physicalDevices, out, out.length);
    if (n < 0) {
      throw new IllegalStateException("the loaded " + kind + " runtime is not the fake");
    }
    List<Integer> visible = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      visible.add(out[i]);
    }
    return visible;
  }

  /** The physical device holding a fake device allocation, or -1. */
  static int physicalDeviceOf(RuntimeKind kind, DeviceBuffer buffer) {
    return DeviceOps.fake_physical_device_of(kind.backend(), buffer.address());
  }

  private static void check(int r) {
    if (r != 0) {
      throw new IllegalStateException("fake control call failed: " + r);
    }
  }
}
