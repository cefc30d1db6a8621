package io.rtensor.testing.engines;

import io.rtensor.device.Device;
import io.rtensor.device.DeviceRuntimes;
import io.rtensor.device.RuntimeKind;
import io.rtensor.device.internal.DeviceOps;
import io.rtensor.engine.Engine;
import io.rtensor.engine.EngineContext;
import io.rtensor.engine.KeepOnDevice;
import io.rtensor.tensor.DType;
import io.rtensor.tensor.DeviceTensor;
import io.rtensor.tensor.Shape;
import io.rtensor.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;

/**
 * An engine on a device: prepares device tensors and returns them (the rollout side), and takes
 * device tensors as parameters (the trainer side), keeping a reference to each so a test can read
 * its bytes after counting the copies the call made. In a worker process of its own it reports that
 * process's fake-runtime counters ({@link #copiedBytes}, {@link #liveBytes}).
 */
public class DeviceTensorEngine implements Engine {
  /** Indices of {@link #copiedBytes} (the fake's counters, native/src/test/cpp). */
  public static final int COPIED_H2D = 0;

  public static final int COPIED_D2H = 1;
  public static final int COPIED_D2D = 2;
  public static final int COPIED_H2H = 3;
  public static final int COPIED_H2D_FROM_PAGEABLE = 4;
  public static final int COPIED_D2H_INTO_PAGEABLE = 5;

  private final List<DeviceTensor> prepared = new ArrayList<>();
  private final List<DeviceTensor> received = new ArrayList<>();
  private EngineContext context;

  public DeviceTensorEngine() {}

  @Override
  public void initialize(EngineContext context) {
    this.context = context;
  }

  /** The worker's device, from the engine's context. */
  private Device workerDevice() {
    Device device = context.device();
    if (device == null) {
      throw new IllegalStateException(context.workerId() + " has no device");
    }
    return device;
  }

  /** As {@link #prepare}, on the worker's device (its context's). */
  public void prepareOnWorker(long rows, long cols, int seed) {
    prepared.add(copyOf(workerDevice(), rows, cols, seed));
  }

  /** The physical identity of the worker's device {@code ordinal} (0: the context's device). */
  public String physicalId(int ordinal) {
    return workerDevice().runtime().device(ordinal).physicalId();
  }

  /** The kind of the worker's device and its physical identity, as the context gives them. */
  public String contextDevice() {
    Device device = workerDevice();
    return device.kind() + " " + device.index() + " " + device.physicalId();
  }

  private int backend() {
    return switch (workerDevice().kind()) {
      case CUDA -> DeviceOps.BACKEND_CUDA;
      case ASCEND -> DeviceOps.BACKEND_ACL;
      case CPU -> throw new IllegalStateException("no fake runtime on the CPU");
    };
  }

  /**
   * This process's fake-runtime byte counters of copies, by direction: host-to-device,
   * device-to-host, device-to-device, host-to-host (staging), host-to-device from pageable memory,
   * device-to-host into pageable memory.
   */
  public long[] copiedBytes() {
    long[] counters = new long[6];
    for (int i = 0; i < counters.length; i++) {
      counters[i] = DeviceOps.fake_copied_bytes(backend(), i);
      if (counters[i] < 0) {
        throw new IllegalStateException("the worker's runtime is not the fake");
      }
    }
    return counters;
  }

  /** This process's live device bytes and live page-locked bytes in the fake runtime. */
  public long[] liveBytes() {
    return new long[] {
      DeviceOps.fake_live_bytes(backend(), 0), DeviceOps.fake_live_bytes(backend(), 1)
    };
  }

  /**
   * The CUDA IPC mappings of other processes' device memory this process holds open (0 on other
   * runtimes, which map none).
   */
  public long ipcMappings() {
    return workerDevice().kind() == RuntimeKind.CUDA
        ? DeviceOps.fake_ipc_open_mappings(DeviceOps.BACKEND_CUDA)
        : 0;
  }

  /**
   * Keeps a reference to every device tensor in {@code first} and {@code rest}; returns, for each
   * tensor argument in order, its class's simple name and, for a device tensor, the physical
   * identity of its device ({@code "DeviceTensor@id"}).
   */
  public List<String> receiveAll(Object first, List<?> rest) {
    List<Object> all = new ArrayList<>();
    all.add(first);
    all.addAll(rest);
    List<String> out = new ArrayList<>();
    for (Object o : all) {
      if (o instanceof DeviceTensor t) {
        received.add(t.share());
        out.add("DeviceTensor@" + t.device().physicalId());
      } else {
        out.add(o == null ? "null" : o.getClass().getSimpleName());
      }
    }
    return out;
  }

  /** A host tensor's element count: a method that takes its tensor on the host. */
  public long numelOnHost(Tensor t) {
    return t.numel();
  }

  /** The physical identity of the device the {@code i}th tensor received is on. */
  public String receivedPhysicalId(int i) {
    return received.get(i).device().physicalId();
  }

  /** The dtype and shape of every tensor received so far. */
  public List<String> receivedSpecs() {
    List<String> out = new ArrayList<>();
    for (int i = 0; i < received.size(); i++) {
      out.add(receivedSpec(i));
    }
    return out;
  }

  /** Drops the tensors received so far. */
  public void releaseReceived() {
    received.forEach(DeviceTensor::close);
    received.clear();
  }

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
    prepared.add(copyOf(DeviceRuntimes.get(RuntimeKind.CUDA).device(ordinal), rows, cols, seed));
  }

  private static DeviceTensor copyOf(Device device, long rows, long cols, int seed) {
    try (BufferAllocator allocator = new RootAllocator();
        Tensor host =
            Tensor.fromBytes(
                allocator, DType.FLOAT32, Shape.of(rows, cols), patternBytes(rows, cols, seed))) {
      return DeviceTensor.copyOf(device, host);
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

  /**
   * The first prepared tensor alone, handed over and kept in device memory until cleared (see
   * {@link KeepOnDevice}).
   */
  @KeepOnDevice
  public DeviceTensor produceKept() {
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
