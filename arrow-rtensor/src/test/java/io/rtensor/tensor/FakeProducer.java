package io.rtensor.tensor;

import static org.junit.jupiter.api.Assertions.fail;

import io.rtensor.device.DeviceRuntimes;
import io.rtensor.device.RuntimeKind;
import io.rtensor.device.internal.DeviceOps;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The DLPack producer of the fake device runtimes (native/src/test/cpp), as a framework exporting a
 * tensor: makes {@code DLManagedTensor}s and counts the calls of their deleter.
 */
final class FakeProducer {
  static final int MADE = 0;
  static final int DELETER_CALLS = 1;
  static final int REPEATED_DELETES = 2;
  static final int LIVE = 3;

  private final RuntimeKind kind;
  private final int backend;

  /** The producer of a fake runtime, which this JVM loads (the native module builds it). */
  FakeProducer(RuntimeKind kind) {
    this.kind = kind;
    String library = kind.libraryPath();
    if (!Files.isRegularFile(Path.of(library))) {
      fail("no fake " + kind + " runtime at " + library + ": build the native module first");
    }
    DeviceRuntimes.get(kind);
    this.backend = kind == RuntimeKind.CUDA ? DeviceOps.BACKEND_CUDA : DeviceOps.BACKEND_ACL;
  }

  /**
   * A tensor holding {@link #pattern} of {@code seed} from {@code byteOffset}; strides may be null.
   */
  long make(
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
            backend,
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
      fail("the loaded " + kind + " runtime is not the fake");
    }
    return address;
  }

  long count(int which) {
    return DeviceOps.fake_dlpack_count(backend, which);
  }

  /** Device bytes the fake holds. */
  long deviceBytes() {
    return DeviceOps.fake_live_bytes(backend, 0);
  }

  /** The byte the producer writes at index i of a tensor's data. */
  static byte pattern(long i, int seed) {
    return (byte) ((i * 131 + seed * 7 + (i >>> 9)) & 0xff);
  }
}
