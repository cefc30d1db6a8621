package io.rtensor.device.internal;

import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.annotation.Cast;
import org.bytedeco.javacpp.annotation.Namespace;
import org.bytedeco.javacpp.annotation.Platform;

/**
 * JavaCPP mirror of {@code rtensor_device.h}: the device runtimes (CPU, CUDA driver, Ascend ACL)
 * behind one flat C++ API, and of {@code rtensor_dlpack.h}: reference-counted device memory
 * (leases) and DLPack import and export (one library, so both see the same loaded runtimes). Each
 * method returns the runtime's status code (0 on success); on failure {@link #last_error_name()}
 * and {@link #last_error_text()} describe it, read on the same thread. Addresses travel as {@code
 * long}. No argument checking happens here: callers in {@code io.rtensor.device} check everything
 * before calling.
 */
@Platform(
    include = {"rtensor_device.h", "rtensor_dlpack.h"},
    link = "dl",
    compiler = {"default", "cpp17"})
@Namespace("rtensor")
public final class DeviceOps {
  static {
    Loader.load();
  }

  private DeviceOps() {}

  public static final int BACKEND_CPU = 0;
  public static final int BACKEND_CUDA = 1;
  public static final int BACKEND_ACL = 2;

  public static final int COPY_D2H = 0;
  public static final int COPY_H2D = 1;
  public static final int COPY_D2D = 2;

  public static final int LOAD_OK = 0;
  public static final int LOAD_NOT_ATTEMPTED = 1;
  public static final int LOAD_LIBRARY_NOT_FOUND = 2;
  public static final int LOAD_SYMBOL_MISSING = 3;
  public static final int LOAD_DRIVER_TOO_OLD = 4;
  public static final int LOAD_INIT_FAILED = 5;

  public static final int RT_E_NOT_LOADED = -1;
  public static final int RT_E_UNSUPPORTED = -2;
  public static final int RT_E_INVALID_ARGUMENT = -3;
  public static final int RT_E_NOT_READY = -4;
  public static final int RT_E_HOST_OUT_OF_MEMORY = -5;
  public static final int RT_E_ALREADY_INITIALIZED = -6;

  public static native int load_runtime(int backend, String path);

  public static native int load_status(int backend);

  public static native String load_message(int backend);

  public static native int driver_version(int backend);

  public static native int probe_library(int backend, String path);

  public static native String probe_message();

  public static native String last_error_name();

  public static native String last_error_text();

  // The process environment (C setenv / getenv), which the device runtimes read.

  public static native int env_guard(String name);

  public static native int runtime_initialized(int backend);

  /** {@code value == null} unsets the variable. */
  public static native int set_env(String name, String value);

  public static native int get_env(String name, @Cast("char*") byte[] buffer, int length);

  public static native int device_count(int backend, int[] count);

  public static native int device_name(
      int backend, int device, @Cast("char*") byte[] buffer, int length);

  public static native int physical_id(
      int backend, int device, @Cast("char*") byte[] buffer, int length);

  public static native int device_total_memory(
      int backend, int device, @Cast("size_t*") long[] total);

  public static native int release_devices(int backend);

  public static native int mem_info(int backend, int device, @Cast("size_t*") long[] freeTotal);

  public static native int mem_alloc(
      int backend, int device, @Cast("size_t") long size, @Cast("uint64_t*") long[] out);

  public static native int mem_free(int backend, int device, @Cast("uint64_t") long ptr);

  public static native int host_alloc(
      int backend, int device, @Cast("size_t") long size, @Cast("uint64_t*") long[] out);

  public static native int host_free(int backend, int device, @Cast("uint64_t") long ptr);

  public static native int host_register(
      int backend, int device, @Cast("uint64_t") long ptr, @Cast("size_t") long size);

  public static native int host_unregister(int backend, int device, @Cast("uint64_t") long ptr);

  // Inter-process memory (CUDA IPC); RT_E_UNSUPPORTED on the other backends.

  /** Bytes of a CUDA IPC handle ({@code CU_IPC_HANDLE_SIZE}). */
  public static final int IPC_HANDLE_BYTES = 64;

  /**
   * Fills {@code handle} (64 bytes) and {@code offset[0]}, the range's offset in its allocation.
   */
  public static native int ipc_export(
      int backend,
      int device,
      @Cast("uint64_t") long ptr,
      @Cast("size_t") long length,
      @Cast("char*") byte[] handle,
      @Cast("uint64_t*") long[] offset);

  /** Maps the allocation {@code handle} names; {@code base[0]} = its base in this process. */
  public static native int ipc_open(
      int backend,
      int device,
      @Cast("const char*") byte[] handle,
      @Cast("uint64_t") long offset,
      @Cast("size_t") long length,
      @Cast("uint64_t*") long[] base);

  public static native int ipc_close(int backend, int device, @Cast("uint64_t") long base);

  public static native int memcpy_sync(
      int backend,
      int device,
      int kind,
      @Cast("uint64_t") long dst,
      @Cast("uint64_t") long src,
      @Cast("size_t") long bytes);

  public static native int memcpy_async(
      int backend,
      int device,
      int kind,
      @Cast("uint64_t") long dst,
      @Cast("uint64_t") long src,
      @Cast("size_t") long bytes,
      @Cast("uint64_t") long stream);

  public static native int memset_d8(
      int backend, int device, @Cast("uint64_t") long ptr, int value, @Cast("size_t") long bytes);

  /**
   * Copies {@code bytes} bytes between host memory and page-locked staging memory of a runtime
   * (streaming stores); the fake runtimes count these copies.
   */
  public static native void staging_copy(
      int backend,
      @Cast("uint64_t") long dst,
      @Cast("uint64_t") long src,
      @Cast("size_t") long bytes);

  public static native int stream_create(int backend, int device, @Cast("uint64_t*") long[] out);

  public static native int stream_sync(int backend, int device, @Cast("uint64_t") long stream);

  public static native int stream_destroy(int backend, int device, @Cast("uint64_t") long stream);

  public static native int event_create(
      int backend, int device, int timing, @Cast("uint64_t*") long[] out);

  public static native int event_record(
      int backend, int device, @Cast("uint64_t") long event, @Cast("uint64_t") long stream);

  public static native int event_sync(int backend, int device, @Cast("uint64_t") long event);

  public static native int event_query(int backend, int device, @Cast("uint64_t") long event);

  public static native int event_elapsed(
      int backend,
      int device,
      @Cast("uint64_t") long start,
      @Cast("uint64_t") long end,
      float[] millis);

  public static native int event_destroy(int backend, int device, @Cast("uint64_t") long event);

  // Raw copies (the baseline of benchmarks): the runtime's entry points called directly.

  public static native int raw_context(int backend, int device, @Cast("uint64_t*") long[] out);

  public static native int raw_copy_sync(
      int backend,
      int device,
      int kind,
      @Cast("uint64_t") long context,
      @Cast("uint64_t") long dst,
      @Cast("uint64_t") long src,
      @Cast("size_t") long bytes,
      @Cast("uint64_t") long stream);

  // Leases and DLPack (rtensor_dlpack.h).

  /** out[0] = the lease, out[1] = the memory. */
  public static native int lease_allocate(
      int backend, int device, @Cast("size_t") long bytes, @Cast("uint64_t*") long[] out);

  public static native int lease_import(
      @Cast("uint64_t") long managed, @Cast("uint64_t*") long[] out);

  public static native int dlpack_describe(
      @Cast("uint64_t") long managed,
      @Cast("int64_t*") long[] meta,
      @Cast("int64_t*") long[] shape,
      @Cast("int64_t*") long[] strides,
      int maxNdim);

  public static native @Cast("long long") long lease_retain(@Cast("uint64_t") long lease);

  public static native int lease_release(@Cast("uint64_t") long lease);

  public static native int dlpack_export(
      @Cast("uint64_t") long lease,
      @Cast("uint64_t") long data,
      int deviceType,
      int deviceId,
      int code,
      int bits,
      int ndim,
      @Cast("const int64_t*") long[] shape,
      @Cast("uint64_t*") long[] out);

  public static native void dlpack_delete(@Cast("uint64_t") long managed);

  public static native @Cast("long long") long live_leases();

  // Test hooks: reach the control entry points of the fake runtimes (RT_E_UNSUPPORTED otherwise).

  /** 1 when the backend's loaded library is one of the project's fake runtimes. */
  public static native int is_fake(int backend);

  public static native int fake_inject_error(int backend, String function, int code, int after);

  public static native @Cast("long long") long fake_call_count(int backend, String function);

  public static native @Cast("long long") long fake_live_bytes(int backend, int kind);

  public static native @Cast("long long") long fake_copied_bytes(int backend, int counter);

  public static native int fake_set_copy_delay_us(int backend, int micros);

  public static native int fake_reset(int backend);

  public static native @Cast("long long") long fake_ipc_open_mappings(int backend);

  public static native int fake_parse_visible(
      int backend, String value, int physicalCount, int[] out, int max);

  public static native int fake_physical_device_of(int backend, @Cast("uint64_t") long ptr);

  public static native @Cast("uint64_t") long fake_dlpack_make(
      int backend,
      int deviceType,
      int deviceId,
      int code,
      int bits,
      int lanes,
      int ndim,
      @Cast("const int64_t*") long[] shape,
      @Cast("const int64_t*") long[] strides,
      @Cast("uint64_t") long byteOffset,
      int seed);

  public static native @Cast("long long") long fake_dlpack_count(int backend, int which);
}
