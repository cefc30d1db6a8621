package io.rtensor.testing.engines;

import io.rtensor.device.Device;
import io.rtensor.device.DeviceRuntimes;
import io.rtensor.device.RuntimeKind;
import io.rtensor.engine.Engine;
import io.rtensor.engine.EngineContext;
import io.rtensor.tensor.DType;
import io.rtensor.tensor.DeviceTensor;
import io.rtensor.tensor.Shape;
import io.rtensor.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;

/**
 * An engine on a CUDA device: prepares device tensors and returns them (the rollout side), and
 * takes device tensors as parameters (the trainer side), keeping a reference to each so a test can
 * read its bytes after counting the copies the call made.
 */
public class DeviceTensorEngine implements Engine {
  private final List<DeviceTensor> prepared = new ArrayList<>();
  private final List<DeviceTensor> received = new ArrayList<>();

  public DeviceTensorEngine() {}

  @Override
  public void initialize(EngineContext context) {}

  /** The byte at index {@code i} of a prepared tensor of {@code seed}. */
  public static byte pattern(long i, int seed) {
    return (byte) ((i * 31 + seed * 17 + (i >>> 11)) & 0xff);
  }

  /** The bytes of a prepared float32 tensor of {@code rows x cols} elements. */
  public static byte[] patternBytes(long rows, long cols, int seed) {
    byte[] bytes = new byte[Math.toIntExact(rows * cols * 4)];
    for (int i = 0; i < bytes.length; i++) {
      bytes[i] = pattern(i, seed);
    }
    return bytes;
  }

  /**
   * Puts a float32 tensor of {@code rows x cols} whose bytes are {@link #pattern} of {@code seed}
   * on CUDA device {@code ordinal}, for {@link #produce} to return.
   */
  public void prepare(int ordinal, long rows, long cols, int seed) {
    Device device = DeviceRuntimes.get(RuntimeKind.CUDA).device(ordinal);
    try (BufferAllocator allocator = new RootAllocator();
        Tensor host =
            Tensor.fromBytes(
                allocator, DType.FLOAT32, Shape.of(rows, cols), patternBytes(rows, cols, seed))) {
      prepared.add(DeviceTensor.copyOf(device, host));
    }
  }

  /** The tensors prepared so far, handed over (the worker stores and closes them). */
  public List<DeviceTensor> produce() {
    List<DeviceTensor> out = new ArrayList<>(prepared);
    prepared.clear();
    return out;
  }

  /** The first prepared tensor alone, handed over. */
  public DeviceTensor produceOne() {
    return prepared.remove(0);
  }

  /** Keeps a reference to {@code t}; returns the ordinal of the device it is on. */
  public int consume(DeviceTensor t) {
    received.add(t.share());
    return t.device().index();
  }

  /** The bytes of the {@code i}th tensor received, copied to the heap. */
  public byte[] receivedBytes(int i) {
    try (BufferAllocator allocator = new RootAllocator();
        Tensor host = received.get(i).toHost(allocator)) {
      return host.toByteArray();
    }
  }

  /** The dtype and shape of the {@code i}th tensor received. */
  public String receivedSpec(int i) {
    DeviceTensor t = received.get(i);
    return t.dtype() + "" + t.shape();
  }

  @Override
  public void destroy() {
    prepared.forEach(DeviceTensor::close);
    received.forEach(DeviceTensor::close);
    prepared.clear();
    received.clear();
  }
}
