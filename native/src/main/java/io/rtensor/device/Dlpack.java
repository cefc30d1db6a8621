package io.rtensor.device;

import io.rtensor.device.internal.DeviceOps;
import java.util.Arrays;

/**
 * DLPack, the tensor exchange of PyTorch, JAX, CuPy and numpy, at the level of memory: {@link
 * #importTensor} takes a producer's {@code DLManagedTensor} (its address, as a capsule named {@code
 * "dltensor"} holds it) and {@link #exportTensor} hands memory out as one. Dtypes are left to the
 * caller as DLPack type codes and bit widths ({@code io.rtensor.tensor.DeviceTensor} maps them).
 *
 * <p>Only dense tensors are taken: one lane per element, whole bytes, and compact row-major layout
 * (no strides, or the strides of a row-major tensor; dimensions of size 1 may have any stride).
 * Devices: {@link #KDL_CPU} (the CPU backend), {@link #KDL_CUDA} (the CUDA runtime's device of that
 * ordinal) and {@link #KDL_ASCEND} (the Ascend runtime's).
 */
public final class Dlpack {
  /** {@code kDLCPU}: host memory. */
  public static final int KDL_CPU = 1;

  /** {@code kDLCUDA}: CUDA device memory; the device id is the process's ordinal. */
  public static final int KDL_CUDA = 2;

  /**
   * {@code kDLAscend}: Ascend NPU memory. Not in a DLPack release yet (v1.3 ends at {@code kDLTrn =
   * 18}); dmlc/dlpack's main branch gives it 21.
   */
  public static final int KDL_ASCEND = 21;

  /** Type codes ({@code DLDataTypeCode}): signed and unsigned integers, IEEE floats, bfloat16. */
  public static final int KDL_INT = 0;

  public static final int KDL_UINT = 1;
  public static final int KDL_FLOAT = 2;
  public static final int KDL_BFLOAT = 4;

  /** {@code kDLBool}: one byte per element. */
  public static final int KDL_BOOL = 6;

  /** The largest rank imported. */
  public static final int MAX_NDIM = 64;

  private Dlpack() {}

  /**
   * A tensor taken from its producer: the reference that owns its memory now, and its element type
   * and shape.
   *
   * @param memory the tensor's bytes, from {@code data + byte_offset}; closing the last reference
   *     calls the producer's deleter
   * @param typeCode the DLPack type code
   * @param typeBits bits per element, a multiple of 8
   * @param shape the dimensions
   */
  public record Imported(DeviceMemory memory, int typeCode, int typeBits, long[] shape) {
    public Imported {
      shape = shape.clone();
    }

    @Override
    public long[] shape() {
      return shape.clone();
    }
  }

  /**
   * Takes ownership of the {@code DLManagedTensor} at {@code managedTensor}: from this call on, its
   * deleter is called exactly once, when the last reference to the returned memory is closed, or
   * before this method throws.
   *
   * @throws DlpackException if the tensor is not one rtensor takes (its deleter has been called);
   *     also when the address is 0 (nothing to delete)
   */
  public static Imported importTensor(long managedTensor) {
    if (managedTensor == 0) {
      throw new DlpackException("no DLManagedTensor: the address is 0");
    }
    long[] out = new long[1];
    int r = DeviceOps.lease_import(managedTensor, out);
    if (r != 0) {
      throw new DlpackException(
          "cannot take the DLManagedTensor: "
              + DeviceOps.last_error_name()
              + ": "
              + DeviceOps.last_error_text());
    }
    long lease = out[0];
    try {
      return describe(managedTensor, lease);
    } catch (RuntimeException e) {
      // Given back: the producer's deleter runs now, once.
      try {
        DeviceOps.lease_release(lease);
      } catch (RuntimeException suppressed) {
        e.addSuppressed(suppressed);
      }
      throw e;
    }
  }

  private static Imported describe(long managedTensor, long lease) {
    long[] meta = new long[9];
    long[] shape = new long[MAX_NDIM];
    long[] strides = new long[MAX_NDIM];
    int r = DeviceOps.dlpack_describe(managedTensor, meta, shape, strides, MAX_NDIM);
    int ndim = (int) meta[2];
    if (r != 0) {
      throw new DlpackException(
          "DLManagedTensor with ndim "
              + ndim
              + " cannot be read: "
              + DeviceOps.last_error_text()
              + " (rank 0 to "
              + MAX_NDIM
              + " with a shape array)");
    }
    int deviceType = (int) meta[0];
    int deviceId = (int) meta[1];
    int code = (int) meta[3];
    int bits = (int) meta[4];
    int lanes = (int) meta[5];
    long data = meta[6];
    long byteOffset = meta[7];
    boolean hasStrides = meta[8] != 0;
    long[] dims = Arrays.copyOf(shape, ndim);
    if (lanes != 1) {
      throw new DlpackException(
          "DLPack vector types are not supported: dtype (code "
              + code
              + ", bits "
              + bits
              + ") has "
              + lanes
              + " lanes, rtensor takes 1");
    }
    if (bits <= 0 || bits % 8 != 0) {
      throw new DlpackException(
          "DLPack dtype (code " + code + ", bits " + bits + ") is not a whole number of bytes");
    }
    long numel = 1;
    boolean empty = false;
    long bytes;
    try {
      for (long d : dims) {
        if (d < 0) {
          throw new DlpackException("negative dimension in DLPack shape " + Arrays.toString(dims));
        }
        if (d == 0) {
          empty = true;
        } else {
          numel = Math.multiplyExact(numel, d);
        }
      }
      numel = empty ? 0 : numel;
      bytes = Math.multiplyExact(numel, bits / 8);
    } catch (ArithmeticException e) {
      throw new DlpackException("DLPack shape " + Arrays.toString(dims) + " overflows a long");
    }
    if (hasStrides && numel > 0) {
      long[] given = Arrays.copyOf(strides, ndim);
      long expected = 1;
      for (int i = ndim - 1; i >= 0; i--) {
        if (dims[i] != 1 && given[i] != expected) {
          throw new DlpackException(
              "DLPack tensor is not compact row-major: strides "
                  + Arrays.toString(given)
                  + " (in elements) for shape "
                  + Arrays.toString(dims)
                  + "; make it contiguous before exporting it");
        }
        expected *= dims[i];
      }
    }
    if (data == 0 && bytes > 0) {
      throw new DlpackException("DLPack tensor of " + bytes + " bytes has a null data pointer");
    }
    Device device = device(deviceType, deviceId);
    long address = data == 0 ? 0 : data + byteOffset;
    return new Imported(new DeviceMemory(device, lease, address, bytes, true), code, bits, dims);
  }

  /**
   * The device a DLPack {@code (device_type, device_id)} names.
   *
   * @throws DlpackException for another device type, a runtime that is not available or a device it
   *     does not have
   */
  public static Device device(int deviceType, int deviceId) {
    RuntimeKind kind =
        switch (deviceType) {
          case KDL_CPU -> RuntimeKind.CPU;
          case KDL_CUDA -> RuntimeKind.CUDA;
          case KDL_ASCEND -> RuntimeKind.ASCEND;
          default ->
              throw new DlpackException(
                  "DLPack device type "
                      + deviceType
                      + " is not supported: rtensor takes kDLCPU (1), kDLCUDA (2) and kDLAscend (21)");
        };
    DeviceRuntime runtime;
    try {
      runtime = DeviceRuntimes.get(kind);
    } catch (RuntimeUnavailableException e) {
      throw new DlpackException(
          "DLPack tensor on a " + kind + " device, but that runtime is not available", e);
    }
    if (deviceId < 0 || deviceId >= runtime.deviceCount()) {
      throw new DlpackException(
          "DLPack tensor on "
              + kind
              + " device "
              + deviceId
              + ", but this process sees "
              + runtime.deviceCount()
              + " "
              + kind
              + " device(s)");
    }
    return runtime.device(deviceId);
  }

  /** The DLPack device type of a runtime's devices. */
  public static int deviceType(RuntimeKind kind) {
    return switch (kind) {
      case CPU -> KDL_CPU;
      case CUDA -> KDL_CUDA;
      case ASCEND -> KDL_ASCEND;
    };
  }

  /**
   * Exports {@code bytes(shape) = numel * typeBits / 8} bytes of {@code memory} from {@code offset}
   * as a new {@code DLManagedTensor} with compact row-major strides, and returns its address. The
   * export holds a reference of its own: the memory stays valid, whatever Java closes, until the
   * consumer calls the deleter (once).
   *
   * @throws IllegalArgumentException if the range is not inside the memory or the type is not whole
   *     bytes
   */
  public static long exportTensor(
      DeviceMemory memory, long offset, int typeCode, int typeBits, long[] shape) {
    if (memory == null) {
      throw new NullPointerException("memory");
    }
    memory.checkOpen();
    if (typeBits <= 0 || typeBits % 8 != 0 || typeBits > 255) {
      throw new IllegalArgumentException("type bits must be whole bytes, got " + typeBits);
    }
    if (shape.length > MAX_NDIM) {
      throw new IllegalArgumentException("rank " + shape.length + " is over " + MAX_NDIM);
    }
    long numel = 1;
    for (long d : shape) {
      if (d < 0) {
        throw new IllegalArgumentException("negative dimension in " + Arrays.toString(shape));
      }
      numel = Math.multiplyExact(numel, d);
    }
    Ranges.check("memory", offset, Math.multiplyExact(numel, typeBits / 8), memory.size());
    Device device = memory.device();
    long[] out = new long[1];
    device
        .nativeRuntime()
        .check(
            DeviceOps.dlpack_export(
                memory.lease(),
                memory.address() + offset,
                deviceType(device.kind()),
                device.index(),
                typeCode,
                typeBits,
                shape.length,
                shape,
                out),
            "dlpackExport",
            device.index(),
            -1);
    return out[0];
  }

  /**
   * Calls the deleter of the {@code DLManagedTensor} at {@code managedTensor}, as a consumer that
   * is done with it (or will not take it) does; nothing for 0.
   */
  public static void delete(long managedTensor) {
    DeviceOps.dlpack_delete(managedTensor);
  }
}
