package io.rtensor.cuda;

import io.rtensor.device.Device;
import io.rtensor.device.HostBuffer;
import io.rtensor.device.NativeHost;
import io.rtensor.engine.Engine;
import io.rtensor.engine.EngineContext;
import io.rtensor.engine.KeepOnDevice;
import io.rtensor.tensor.DType;
import io.rtensor.tensor.DeviceTensor;
import io.rtensor.tensor.Shape;
import io.rtensor.transport.SeededBytes;

/**
 * An engine on its worker's GPU for {@link CudaDeviceTensorPathTest}: as the producer it holds a
 * float32 tensor of seeded bytes on its device and returns it as a device tensor; as the consumer
 * it takes a device tensor parameter, received on its device, and reports where it is and the
 * checksum of its bytes.
 */
public class GpuTensorEngine implements Engine {
  private Device device;
  private DeviceTensor prepared;

  public GpuTensorEngine() {}

  @Override
  public void initialize(EngineContext context) {
    device = context.device();
    if (device == null) {
      throw new IllegalStateException(context.workerId() + " holds no GPU");
    }
  }

  /** The PCI bus id of the worker's GPU. */
  public String physicalId() {
    return device.physicalId();
  }

  /** Puts a float32 tensor of {@code rows x cols} holding the bytes of {@code seed} on the GPU. */
  public void prepare(long rows, long cols, long seed) {
    DeviceTensor t = DeviceTensor.allocate(device, DType.FLOAT32, Shape.of(rows, cols));
    try (HostBuffer staging = device.allocateHost(t.byteSize())) {
      SeededBytes.fill(staging.address(), t.byteSize(), seed);
      device.copyToDevice(staging.memory(), 0, t.buffer(), 0, t.byteSize());
    } catch (RuntimeException e) {
      t.close();
      throw e;
    }
    prepared = t;
  }

  /** The prepared tensor (the worker stores it with one copy from the GPU, then drops this). */
  public DeviceTensor produce() {
    return prepared.share();
  }

  /**
   * The prepared tensor, kept in this worker's GPU memory until its shard is cleared: a consumer on
   * the same node receives it by CUDA IPC.
   */
  @KeepOnDevice
  public DeviceTensor produceKept() {
    return prepared.share();
  }

  /**
   * Where {@code t} arrived and what it holds: {@code "<PCI id of its GPU> <dtype>[shape] <checksum
   * of its bytes>"}.
   */
  public String receive(DeviceTensor t) {
    try (HostBuffer host = device.allocateHost(t.byteSize())) {
      t.device().copyToHost(t.buffer(), 0, host.memory(), 0, t.byteSize());
      return t.device().physicalId()
          + " "
          + t.dtype()
          + t.shape()
          + " "
          + NativeHost.checksum(host.address(), t.byteSize());
    }
  }

  @Override
  public void destroy() {
    if (prepared != null) {
      prepared.close();
    }
  }
}
