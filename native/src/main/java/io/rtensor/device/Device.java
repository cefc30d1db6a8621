package io.rtensor.device;

import io.rtensor.device.internal.DeviceOps;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Objects;
import org.apache.arrow.memory.ArrowBuf;

/**
 * One device of a runtime: allocates device and page-locked host memory, creates streams and
 * events, and copies between host and device. Every argument is checked here, before native code
 * touches memory: a bad offset, size, closed buffer or buffer of another device is an {@link
 * IllegalArgumentException} or {@link IllegalStateException}, never a crash.
 *
 * <p>Synchronous copies do not wait for work queued on {@link DeviceStream}s (CUDA streams are
 * created non-blocking): synchronize the stream, or await its {@link CopyHandle}, first.
 */
public final class Device {
  private final NativeRuntime runtime;
  private final int index;

  Device(NativeRuntime runtime, int index) {
    this.runtime = runtime;
    this.index = index;
  }

  /** The runtime this device belongs to. */
  public DeviceRuntime runtime() {
    return runtime;
  }

  NativeRuntime nativeRuntime() {
    return runtime;
  }

  int backend() {
    return runtime.backend();
  }

  /** The device ordinal. */
  public int index() {
    return index;
  }

  /** The runtime kind. */
  public RuntimeKind kind() {
    return runtime.kind();
  }

  /** The device's name as the runtime reports it. */
  public String name() {
    byte[] buffer = new byte[256];
    runtime.check(
        DeviceOps.device_name(backend(), index, buffer, buffer.length), "deviceName", index, -1);
    int n = 0;
    while (n < buffer.length && buffer[n] != 0) {
      n++;
    }
    return new String(buffer, 0, n, StandardCharsets.UTF_8);
  }

  /**
   * Which physical device this is, the same in every process whatever its visibility variables
   * ({@link DeviceVisibility}): the PCI bus id for CUDA ({@code cuDeviceGetPCIBusId}, e.g. {@code
   * "0000:1A:00.0"}), {@code "npu:<physical id>"} for Ascend ({@code
   * aclrtGetPhyDevIdByLogicDevId}), {@code "cpu"} for the CPU.
   *
   * @throws DeviceException on Ascend runtimes older than CANN 7, which lack that call
   */
  public String physicalId() {
    byte[] buffer = new byte[64];
    runtime.check(
        DeviceOps.physical_id(backend(), index, buffer, buffer.length), "physicalId", index, -1);
    int n = 0;
    while (n < buffer.length && buffer[n] != 0) {
      n++;
    }
    return new String(buffer, 0, n, StandardCharsets.US_ASCII);
  }

  /** Total memory of the device ({@code cuDeviceTotalMem}), without making a context current. */
  public long totalMemory() {
    long[] total = new long[1];
    runtime.check(
        DeviceOps.device_total_memory(backend(), index, total), "deviceTotalMem", index, -1);
    return total[0];
  }

  /** Free and total memory. */
  public MemoryInfo memoryInfo() {
    long[] freeTotal = new long[2];
    runtime.check(DeviceOps.mem_info(backend(), index, freeTotal), "memGetInfo", index, -1);
    return new MemoryInfo(freeTotal[0], freeTotal[1]);
  }

  // ---- memory ----

  /**
   * Allocates device memory ({@code cuMemAlloc} / {@code aclrtMalloc}; aligned host memory on the
   * CPU). The returned buffer owns it.
   */
  public DeviceBuffer allocate(long bytes) {
    if (bytes <= 0) {
      throw new IllegalArgumentException("allocation size must be > 0, got " + bytes);
    }
    long[] out = new long[1];
    runtime.check(DeviceOps.mem_alloc(backend(), index, bytes, out), "memAlloc", index, bytes);
    return new DeviceBuffer(this, out[0], bytes, true);
  }

  /**
   * Wraps device memory another library allocated (a framework tensor, for example). The buffer
   * does not own the memory: closing it frees nothing. The caller keeps the memory alive while the
   * buffer is used.
   */
  public DeviceBuffer wrap(long address, long bytes) {
    if (address == 0) {
      throw new IllegalArgumentException("cannot wrap a null device pointer");
    }
    if (bytes <= 0) {
      throw new IllegalArgumentException("wrapped size must be > 0, got " + bytes);
    }
    return new DeviceBuffer(this, address, bytes, false);
  }

  /**
   * Allocates page-locked host memory ({@code cuMemAllocHost} / {@code aclrtMallocHost}; ordinary
   * aligned memory on the CPU backend).
   */
  public HostBuffer allocateHost(long bytes) {
    if (bytes <= 0) {
      throw new IllegalArgumentException("allocation size must be > 0, got " + bytes);
    }
    long[] out = new long[1];
    runtime.check(DeviceOps.host_alloc(backend(), index, bytes, out), "memAllocHost", index, bytes);
    return new HostBuffer(this, out[0], bytes);
  }

  void freeHost(long address, long bytes) {
    runtime.check(DeviceOps.host_free(backend(), index, address), "memFreeHost", index, bytes);
  }

  /**
   * Page-locks existing host memory for this runtime ({@code cuMemHostRegister}); a no-op on the
   * CPU backend.
   *
   * @throws UnsupportedOperationException on Ascend
   */
  public HostRegistration register(HostMemory memory) {
    Objects.requireNonNull(memory, "memory");
    if (kind() == RuntimeKind.ASCEND) {
      throw new UnsupportedOperationException("host registration is not bound for Ascend");
    }
    if (memory.size() == 0) {
      throw new IllegalArgumentException("cannot register an empty range");
    }
    runtime.check(
        DeviceOps.host_register(backend(), index, memory.address(), memory.size()),
        "memHostRegister",
        index,
        memory.size());
    return new HostRegistration(this, HostMemory.pinned(memory.address(), memory.size()));
  }

  // ---- inter-process memory ----

  /** Whether device memory can be shared with other processes ({@link #exportIpc}): CUDA only. */
  public boolean supportsIpc() {
    return kind() == RuntimeKind.CUDA;
  }

  private void checkIpcSupported(String operation) {
    if (!supportsIpc()) {
      throw new UnsupportedOperationException(
          operation
              + " needs CUDA IPC; the "
              + kind()
              + " runtime cannot share device memory between processes");
    }
  }

  /**
   * A handle another process on this machine can map {@code length} bytes at {@code offset} of
   * {@code buffer} with ({@link #openIpc}). The driver shares whole allocations: {@code
   * cuMemGetAddressRange} finds the allocation holding the range and {@code cuIpcGetMemHandle}
   * makes its handle; the handle records the range's offset from the allocation's base.
   *
   * <p>Lifetime: the memory stays this process's. It must stay allocated (the buffer, or whoever
   * owns a wrapped buffer's memory, must not free it) until every process that opened the handle
   * has closed its mapping; freeing it earlier is undefined behaviour in the driver.
   *
   * @throws UnsupportedOperationException on Ascend and CPU runtimes ({@link #supportsIpc()})
   * @throws IllegalArgumentException when the buffer is of another device or the range is empty
   * @throws IllegalStateException when the buffer is closed
   * @throws IndexOutOfBoundsException when the range is not within the buffer
   * @throws DeviceException when the driver refuses (memory not from {@code cuMemAlloc}, for one)
   */
  public DeviceIpcHandle exportIpc(DeviceBuffer buffer, long offset, long length) {
    checkIpcSupported("exportIpc");
    checkOwn(buffer, "exported");
    Ranges.check("exported", offset, length, buffer.size());
    if (length == 0) {
      throw new IllegalArgumentException("cannot export an empty range over IPC");
    }
    byte[] handle = new byte[DeviceOps.IPC_HANDLE_BYTES];
    long[] base = new long[1];
    runtime.check(
        DeviceOps.ipc_export(backend(), index, buffer.address() + offset, length, handle, base),
        "ipcGetMemHandle",
        index,
        length);
    return new DeviceIpcHandle(
        handle, base[0], length, physicalId(), ProcessHandle.current().pid());
  }

  /**
   * Maps memory another process exported ({@link #exportIpc}) into this process, on this device's
   * primary context ({@code cuIpcOpenMemHandle} with {@code CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS}, so
   * a handle of another device of the machine is mapped through peer access). Returns a buffer of
   * {@code handle.length()} bytes at the mapped base plus {@code handle.offset()}, usable in this
   * device's copies like its own memory. The buffer does not own the memory ({@link
   * DeviceBuffer#owned()} is false); its {@link DeviceBuffer#close()} unmaps it ({@code
   * cuIpcCloseMemHandle}), once however often it is called. The driver counts opens of one handle
   * in a process: a second open returns the same mapping, and it is unmapped when each open is
   * closed.
   *
   * <p>Lifetime: the exporter must keep the allocation alive until this buffer is closed.
   *
   * @throws UnsupportedOperationException on Ascend and CPU runtimes ({@link #supportsIpc()})
   * @throws IllegalArgumentException when the handle was exported by this very process (the driver
   *     maps only other processes' memory; use the exporter's buffer here)
   * @throws DeviceException when the driver refuses: CUDA_ERROR_INVALID_HANDLE for a handle that is
   *     not valid or whose exporter is gone, for one
   */
  public DeviceBuffer openIpc(DeviceIpcHandle handle) {
    checkIpcSupported("openIpc");
    Objects.requireNonNull(handle, "handle");
    if (handle.exporterPid() == ProcessHandle.current().pid()) {
      throw new IllegalArgumentException(
          handle
              + " was exported by this process; CUDA maps only another process's memory: use the"
              + " exporting buffer itself");
    }
    long[] base = new long[1];
    runtime.check(
        DeviceOps.ipc_open(
            backend(), index, handle.handle(), handle.offset(), handle.length(), base),
        "ipcOpenMemHandle",
        index,
        handle.length());
    return DeviceBuffer.ipcMapping(this, base[0], handle.offset(), handle.length());
  }

  // ---- streams and events ----

  /** Creates a stream (non-blocking with respect to the legacy default stream on CUDA). */
  public DeviceStream createStream() {
    long[] out = new long[1];
    runtime.check(DeviceOps.stream_create(backend(), index, out), "streamCreate", index, -1);
    return new DeviceStream(this, out[0]);
  }

  /**
   * Creates an event.
   *
   * @throws UnsupportedOperationException when the runtime has no events bound (Ascend)
   */
  public DeviceEvent createEvent() {
    return createEvent(true);
  }

  /** An event that only marks completion (no timing), which the runtime makes cheaper. */
  DeviceEvent createCompletionEvent() {
    return createEvent(false);
  }

  private DeviceEvent createEvent(boolean timing) {
    if (!runtime.supportsEvents()) {
      throw new UnsupportedOperationException(kind() + " events are not bound; sync the stream");
    }
    long[] out = new long[1];
    runtime.check(
        DeviceOps.event_create(backend(), index, timing ? 1 : 0, out), "eventCreate", index, -1);
    return new DeviceEvent(this, out[0]);
  }

  // ---- fills and copies ----

  /** Sets {@code bytes} bytes of device memory at {@code offset} to {@code value}. */
  public void fill(DeviceBuffer buffer, long offset, long bytes, int value) {
    checkOwn(buffer, "buffer");
    Ranges.check("buffer", offset, bytes, buffer.size());
    if (bytes == 0) {
      return;
    }
    runtime.check(
        DeviceOps.memset_d8(backend(), index, buffer.address() + offset, value & 0xff, bytes),
        "memsetD8",
        index,
        bytes);
  }

  /** Copies device memory to host memory and waits for the copy. */
  public void copyToHost(
      DeviceBuffer src, long srcOffset, HostMemory dst, long dstOffset, long bytes) {
    checkOwn(src, "source");
    Objects.requireNonNull(dst, "destination");
    Ranges.check("source", srcOffset, bytes, src.size());
    Ranges.check("destination", dstOffset, bytes, dst.size());
    if (bytes == 0) {
      return;
    }
    runtime.check(
        DeviceOps.memcpy_sync(
            backend(),
            index,
            DeviceOps.COPY_D2H,
            dst.address() + dstOffset,
            src.address() + srcOffset,
            bytes),
        "memcpyDtoH",
        index,
        bytes);
  }

  /** Copies device memory into an Arrow buffer: one DMA when the buffer is page-locked. */
  public void copyToHost(
      DeviceBuffer src, long srcOffset, ArrowBuf dst, long dstOffset, long bytes) {
    copyToHost(src, srcOffset, HostMemory.of(dst), dstOffset, bytes);
  }

  /** Copies host memory to device memory and waits for the copy. */
  public void copyToDevice(
      HostMemory src, long srcOffset, DeviceBuffer dst, long dstOffset, long bytes) {
    checkOwn(dst, "destination");
    Objects.requireNonNull(src, "source");
    Ranges.check("source", srcOffset, bytes, src.size());
    Ranges.check("destination", dstOffset, bytes, dst.size());
    if (bytes == 0) {
      return;
    }
    runtime.check(
        DeviceOps.memcpy_sync(
            backend(),
            index,
            DeviceOps.COPY_H2D,
            dst.address() + dstOffset,
            src.address() + srcOffset,
            bytes),
        "memcpyHtoD",
        index,
        bytes);
  }

  /**
   * Copies between two buffers of this device and waits. Buffers of different devices are refused
   * (peer access is not bound).
   */
  public void copyOnDevice(
      DeviceBuffer src, long srcOffset, DeviceBuffer dst, long dstOffset, long bytes) {
    checkOwn(src, "source");
    checkOwn(dst, "destination");
    Ranges.check("source", srcOffset, bytes, src.size());
    Ranges.check("destination", dstOffset, bytes, dst.size());
    if (bytes == 0) {
      return;
    }
    runtime.check(
        DeviceOps.memcpy_sync(
            backend(),
            index,
            DeviceOps.COPY_D2D,
            dst.address() + dstOffset,
            src.address() + srcOffset,
            bytes),
        "memcpyDtoD",
        index,
        bytes);
  }

  /**
   * Starts a device-to-host copy on a stream. The destination must stay valid until the returned
   * handle is awaited or closed. Page-locked destinations copy truly asynchronously; pageable ones
   * may be staged by the driver.
   */
  public CopyHandle copyToHostAsync(
      DeviceBuffer src,
      long srcOffset,
      HostMemory dst,
      long dstOffset,
      long bytes,
      DeviceStream stream) {
    checkOwn(src, "source");
    Objects.requireNonNull(dst, "destination");
    checkStream(stream);
    Ranges.check("source", srcOffset, bytes, src.size());
    Ranges.check("destination", dstOffset, bytes, dst.size());
    return startCopy(
        DeviceOps.COPY_D2H,
        dst.address() + dstOffset,
        src.address() + srcOffset,
        bytes,
        stream,
        "memcpyDtoHAsync");
  }

  /** Starts a host-to-device copy on a stream; the source must stay valid until it completes. */
  public CopyHandle copyToDeviceAsync(
      HostMemory src,
      long srcOffset,
      DeviceBuffer dst,
      long dstOffset,
      long bytes,
      DeviceStream stream) {
    checkOwn(dst, "destination");
    Objects.requireNonNull(src, "source");
    checkStream(stream);
    Ranges.check("source", srcOffset, bytes, src.size());
    Ranges.check("destination", dstOffset, bytes, dst.size());
    return startCopy(
        DeviceOps.COPY_H2D,
        dst.address() + dstOffset,
        src.address() + srcOffset,
        bytes,
        stream,
        "memcpyHtoDAsync");
  }

  /** Starts a copy between two buffers of this device on a stream. */
  public CopyHandle copyOnDeviceAsync(
      DeviceBuffer src,
      long srcOffset,
      DeviceBuffer dst,
      long dstOffset,
      long bytes,
      DeviceStream stream) {
    checkOwn(src, "source");
    checkOwn(dst, "destination");
    checkStream(stream);
    Ranges.check("source", srcOffset, bytes, src.size());
    Ranges.check("destination", dstOffset, bytes, dst.size());
    return startCopy(
        DeviceOps.COPY_D2D,
        dst.address() + dstOffset,
        src.address() + srcOffset,
        bytes,
        stream,
        "memcpyDtoDAsync");
  }

  private CopyHandle startCopy(
      int kind, long dst, long src, long bytes, DeviceStream stream, String operation) {
    if (bytes > 0) {
      enqueueCopy(kind, dst, src, bytes, stream, operation);
    }
    long ticket = stream.issueTicket();
    DeviceEvent done = null;
    if (runtime.supportsEvents()) {
      done = createCompletionEvent();
      try {
        done.record(stream);
      } catch (RuntimeException e) {
        done.close();
        throw e;
      }
    }
    return new CopyHandle(stream, done, bytes, ticket);
  }

  /** Queues a copy on a stream with no argument checks: callers have checked. */
  void enqueueCopy(int kind, long dst, long src, long bytes, DeviceStream stream, String op) {
    runtime.check(
        DeviceOps.memcpy_async(backend(), index, kind, dst, src, bytes, stream.handle()),
        op,
        index,
        bytes);
  }

  void checkOwn(DeviceBuffer buffer, String role) {
    if (buffer == null) {
      throw new NullPointerException(role + " buffer");
    }
    buffer.checkOpen();
    if (buffer.device() != this) {
      throw new IllegalArgumentException(
          role
              + " buffer is on "
              + buffer.device()
              + ", not "
              + this
              + "; copies between devices need peer access, which is not bound");
    }
  }

  void checkStream(DeviceStream stream) {
    if (stream == null) {
      throw new NullPointerException("stream");
    }
    stream.checkOpen();
    if (stream.device() != this) {
      throw new IllegalArgumentException("stream belongs to " + stream.device() + ", not " + this);
    }
  }

  @Override
  public String toString() {
    return kind().name().toLowerCase(Locale.ROOT) + ":" + index;
  }
}
