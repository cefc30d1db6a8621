package io.rtensor.tensor;

import io.rtensor.device.Device;
import io.rtensor.device.DeviceBuffer;
import io.rtensor.device.DeviceMemory;
import io.rtensor.device.Dlpack;
import io.rtensor.device.DlpackException;
import io.rtensor.device.HostMemory;
import java.util.Objects;
import org.apache.arrow.memory.BufferAllocator;

/**
 * A dense tensor in a device's memory: contiguous row-major elements of a dtype and a shape, on a
 * {@link Device} (CPU, CUDA or Ascend).
 *
 * <p>A tensor is one reference to its memory ({@link DeviceMemory}): memory rtensor allocated
 * ({@link #allocate}, {@link #copyOf}), or a tensor another library allocated and handed over
 * through DLPack ({@link #fromDlpack}), whose deleter is called once the last reference is gone.
 * Views ({@link #share}, {@link #sliceRows}, {@link #reshape}) are references of their own, and so
 * is every DLPack export ({@link #toDlpack}) until its consumer deletes it: the memory lives until
 * all of them are closed, in any order. {@link DeviceMemory#openReferences()} lists the references
 * not closed, so tests fail on a leak.
 */
public final class DeviceTensor implements AutoCloseable {
  private final DeviceMemory memory;
  private final long offset; // bytes into memory
  private final DType dtype;
  private final Shape shape;
  private DeviceBuffer view;
  private boolean closed;

  private DeviceTensor(DeviceMemory memory, long offset, DType dtype, Shape shape) {
    this.memory = memory;
    this.offset = offset;
    this.dtype = dtype;
    this.shape = shape;
  }

  // ---------------------------------------------------------------- factories

  /** A tensor of uninitialised device memory, owned by rtensor. */
  public static DeviceTensor allocate(Device device, DType dtype, Shape shape) {
    Objects.requireNonNull(device, "device");
    long bytes = shape.byteSize(Objects.requireNonNull(dtype, "dtype"));
    return new DeviceTensor(DeviceMemory.allocate(device, Math.max(1, bytes)), 0, dtype, shape);
  }

  /** A device tensor holding a copy of a host tensor's bytes. */
  public static DeviceTensor copyOf(Device device, Tensor host) {
    Objects.requireNonNull(host, "host tensor");
    DeviceTensor t = allocate(device, host.dtype(), host.shape());
    try {
      if (t.byteSize() > 0) {
        device.copyToDevice(HostMemory.of(host.data()), 0, t.buffer(), 0, t.byteSize());
      }
      return t;
    } catch (RuntimeException e) {
      t.close();
      throw e;
    }
  }

  /**
   * Takes the {@code DLManagedTensor} at {@code managedTensor} (as a PyTorch, JAX or CuPy DLPack
   * capsule named {@code "dltensor"} holds it; the caller renames or clears the capsule, as a
   * consumer does). From this call on its producer's deleter is called exactly once: when the
   * returned tensor and every reference made from it are closed, or before this method throws.
   *
   * @throws DlpackException for a device other than CPU, CUDA and Ascend (or one this process does
   *     not see), a dtype other than those of {@link DType}, vector lanes, or strides that are not
   *     compact row-major
   */
  public static DeviceTensor fromDlpack(long managedTensor) {
    Dlpack.Imported imported = Dlpack.importTensor(managedTensor);
    DeviceMemory memory = imported.memory();
    try {
      DType dtype = dtypeOf(imported.typeCode(), imported.typeBits());
      return new DeviceTensor(memory, 0, dtype, Shape.of(imported.shape()));
    } catch (RuntimeException e) {
      memory.close(); // the producer's deleter runs here
      if (e instanceof DlpackException) {
        throw e;
      }
      throw new DlpackException("DLPack tensor cannot be taken: " + e.getMessage(), e);
    }
  }

  /**
   * Exports this tensor as a new {@code DLManagedTensor} and returns its address: compact row-major
   * strides, this tensor's device (kDLCPU, kDLCUDA with the device's ordinal, or kDLAscend) and
   * dtype. The export is a reference of its own: closing this tensor does not free the memory while
   * the consumer holds it; the consumer calls the deleter, once, when done.
   */
  public long toDlpack() {
    checkOpen();
    return Dlpack.exportTensor(
        memory, offset, typeCode(dtype), dtype.byteWidth() * 8, shape.dims());
  }

  /** The DLPack type code of a dtype ({@code kDLBool} for bool, {@code kDLBfloat}, ...). */
  static int typeCode(DType dtype) {
    return switch (dtype) {
      case BOOL -> Dlpack.KDL_BOOL;
      case UINT8 -> Dlpack.KDL_UINT;
      case INT8, INT16, INT32, INT64 -> Dlpack.KDL_INT;
      case FLOAT16, FLOAT32, FLOAT64 -> Dlpack.KDL_FLOAT;
      case BFLOAT16 -> Dlpack.KDL_BFLOAT;
    };
  }

  /**
   * The dtype of a DLPack type.
   *
   * @throws DlpackException for a type {@link DType} does not have
   */
  static DType dtypeOf(int code, int bits) {
    for (DType t : DType.values()) {
      if (typeCode(t) == code && t.byteWidth() * 8 == bits) {
        return t;
      }
    }
    throw new DlpackException(
        "DLPack dtype (code "
            + code
            + ", bits "
            + bits
            + ") has no rtensor dtype; rtensor takes bool, uint8, int8, int16, int32, int64,"
            + " float16, bfloat16, float32 and float64");
  }

  // ---------------------------------------------------------------- accessors

  public Device device() {
    return memory.device();
  }

  public DType dtype() {
    return dtype;
  }

  public Shape shape() {
    return shape;
  }

  public long numel() {
    return shape.numel();
  }

  /** {@code numel * dtype.byteWidth()}. */
  public long byteSize() {
    return shape.byteSize(dtype);
  }

  /** The device address of the first element (0 for an empty tensor another library made so). */
  public long address() {
    checkOpen();
    return memory.address() + offset;
  }

  /**
   * The tensor's bytes as a device buffer for copies ({@link Device#copyToHost} and the others). It
   * does not own the memory and is closed with this tensor, after which copies through it are
   * refused.
   *
   * @throws IllegalStateException for a tensor of 0 bytes, which has no buffer
   */
  public synchronized DeviceBuffer buffer() {
    checkOpen();
    if (byteSize() == 0) {
      throw new IllegalStateException("a tensor of 0 bytes has no device buffer");
    }
    if (view == null) {
      view = device().wrap(address(), byteSize());
    }
    return view;
  }

  /** A host tensor holding a copy of this tensor's bytes, allocated from {@code allocator}. */
  public Tensor toHost(BufferAllocator allocator) {
    checkOpen();
    Tensor host = Tensor.allocateUninitialized(allocator, dtype, shape);
    try {
      if (byteSize() > 0) {
        device().copyToHost(buffer(), 0, host.buffer(), 0, byteSize());
      }
      return host;
    } catch (RuntimeException e) {
      host.close();
      throw e;
    }
  }

  public synchronized boolean isClosed() {
    return closed;
  }

  // ---------------------------------------------------------------- views

  /** Another reference to the same tensor; close both. */
  public DeviceTensor share() {
    checkOpen();
    return new DeviceTensor(memory.retain(), offset, dtype, shape);
  }

  /** Rows {@code [start, end)} along dimension 0, a reference of its own to the same memory. */
  public DeviceTensor sliceRows(long start, long end) {
    checkOpen();
    if (shape.rank() == 0) {
      throw new IllegalStateException("a rank-0 tensor has no rows to slice");
    }
    long rows = shape.dim(0);
    if (start < 0 || end < start || end > rows) {
      throw new IndexOutOfBoundsException(
          "rows [" + start + ", " + end + ") of a tensor with " + rows + " rows");
    }
    long rowBytes = shape.rowNumel() * dtype.byteWidth();
    return new DeviceTensor(
        memory.retain(), offset + start * rowBytes, dtype, shape.withDim0(end - start));
  }

  /** The same memory with another shape of as many elements, a reference of its own. */
  public DeviceTensor reshape(Shape newShape) {
    checkOpen();
    if (newShape.numel() != shape.numel()) {
      throw new IllegalArgumentException(
          "cannot reshape " + shape + " (" + shape.numel() + " elements) to " + newShape);
    }
    return new DeviceTensor(memory.retain(), offset, dtype, newShape);
  }

  private synchronized void checkOpen() {
    if (closed) {
      throw new IllegalStateException("device tensor " + dtype + shape + " is closed");
    }
  }

  /**
   * Drops this reference; idempotent. The last reference of the memory (tensors, views and DLPack
   * exports together) frees it, or calls the DLPack producer's deleter.
   */
  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    if (view != null) {
      view.close();
    }
    memory.close();
  }

  @Override
  public String toString() {
    return "DeviceTensor("
        + dtype
        + ", "
        + shape
        + ", "
        + memory.device()
        + (isClosed() ? ", closed)" : ")");
  }
}
