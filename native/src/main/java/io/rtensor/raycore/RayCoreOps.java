package io.rtensor.raycore;

import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.annotation.Cast;
import org.bytedeco.javacpp.annotation.Namespace;
import org.bytedeco.javacpp.annotation.Platform;

/**
 * JavaCPP mirror of {@code rtensor_ray_core.h}: objects created and read in place through the Ray
 * core worker that Ray's Java runtime started in this process. Nothing here links against Ray: the
 * functions bind to Ray's library by name at the first call, and only for the Ray build whose type
 * layouts were checked (see the header); {@link #bind_api()} says whether that worked and {@link
 * #error_text()} why not. Loading this class needs no Ray; calling anything but {@code bind_api}
 * and {@code error_text} before {@code bind_api} returned 0 is an error.
 *
 * <p>Each call returns 0 on success; on failure {@link #error_text()} describes it, read on the
 * same thread. Addresses and handles travel as {@code long}.
 */
@Platform(
    include = "rtensor_ray_core.h",
    link = "dl",
    compiler = {"default", "cpp17"})
@Namespace("rtensor::raycore")
public final class RayCoreOps {
  static {
    Loader.load();
  }

  private RayCoreOps() {}

  /** {@link #bind_api()}: bound. */
  public static final int BOUND = 0;

  /** {@link #bind_api()}: Ray's core worker library is not loaded in this process. */
  public static final int NOT_LOADED = 1;

  /** {@link #bind_api()}: a Ray build whose layouts were not checked. */
  public static final int UNVERIFIED_BUILD = 2;

  /** {@link #bind_api()}: a function is missing from the library. */
  public static final int SYMBOL_MISSING = 3;

  /** A {@link #get_objects} entry: bytes at {@code out[3i+1]}, {@code out[3i+2]} long. */
  public static final int OBJECT_BYTES = 0;

  /** A {@link #get_objects} entry: a Ray error object; its Ray error type is {@code out[3i+2]}. */
  public static final int OBJECT_ERROR = 1;

  /** A {@link #get_objects} entry: an object whose metadata is not {@code RAW}. */
  public static final int OBJECT_NOT_RAW = 2;

  /** Binds Ray's core worker functions (once per process); see the constants. */
  public static native int bind_api();

  /** Why the last failed call on this thread failed. */
  public static native @Cast("const char*") String error_text();

  /**
   * Creates a {@code RAW} object of {@code size} bytes owned by this process with one local
   * reference: its 28-byte id into {@code id}, {@code out = {handle, address}}.
   */
  public static native int create_object(
      long size, @Cast("uint8_t*") byte[] id, @Cast("int64_t*") long[] out);

  /** Seals (and pins) a created object; the handle is gone afterwards either way. */
  public static native int seal_object(long handle);

  /**
   * Gets {@code count} objects ({@code ids}: {@code count} x 28 bytes), waiting at most {@code
   * timeoutMs} (-1: forever): {@code kinds[i]} and {@code out[3i..3i+2] = {handle, address, size or
   * error type}}.
   */
  public static native int get_objects(
      @Cast("const uint8_t*") byte[] ids,
      int count,
      long timeoutMs,
      @Cast("int32_t*") int[] kinds,
      @Cast("int64_t*") long[] out);

  /** Releases an object that {@link #get_objects} handed out (0 is ignored). */
  public static native void release_object(long handle);
}
