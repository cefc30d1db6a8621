package io.rtensor.device;

import io.rtensor.device.internal.DeviceOps;
import java.util.EnumMap;
import java.util.Map;
import java.util.Optional;

/**
 * Loads device runtimes. Each runtime is loaded at most once per process, from the library named by
 * {@link RuntimeKind#libraryPath()}; the outcome (success or the reason for failure) is kept.
 */
public final class DeviceRuntimes {
  private static final Map<RuntimeKind, NativeRuntime> LOADED = new EnumMap<>(RuntimeKind.class);

  private DeviceRuntimes() {}

  /** The CPU backend; always available. */
  public static DeviceRuntime cpu() {
    return get(RuntimeKind.CPU);
  }

  /**
   * The runtime of this kind, loading it on first use.
   *
   * @throws RuntimeUnavailableException if its library cannot be loaded or initialised
   */
  public static synchronized DeviceRuntime get(RuntimeKind kind) {
    NativeRuntime loaded = LOADED.get(kind);
    if (loaded != null) {
      return loaded;
    }
    String library = kind.libraryPath();
    int status = DeviceOps.load_runtime(kind.backend(), library);
    if (status != DeviceOps.LOAD_OK) {
      throw new RuntimeUnavailableException(
          kind, library, statusName(status), status, DeviceOps.load_message(kind.backend()));
    }
    NativeRuntime runtime = new NativeRuntime(kind, library);
    LOADED.put(kind, runtime);
    return runtime;
  }

  /** The runtime of this kind, or empty when it cannot be loaded. */
  public static Optional<DeviceRuntime> find(RuntimeKind kind) {
    try {
      return Optional.of(get(kind));
    } catch (RuntimeUnavailableException e) {
      return Optional.empty();
    }
  }

  /** The first runtime that loads and has a device, in the order CUDA, Ascend, CPU. */
  public static DeviceRuntime best() {
    for (RuntimeKind kind : new RuntimeKind[] {RuntimeKind.CUDA, RuntimeKind.ASCEND}) {
      Optional<DeviceRuntime> runtime = find(kind);
      if (runtime.isPresent() && runtime.get().deviceCount() > 0) {
        return runtime.get();
      }
    }
    return cpu();
  }

  /** A short name for a load status of the native loader. */
  static String statusName(int status) {
    return switch (status) {
      case DeviceOps.LOAD_OK -> "LOADED";
      case DeviceOps.LOAD_NOT_ATTEMPTED -> "NOT_ATTEMPTED";
      case DeviceOps.LOAD_LIBRARY_NOT_FOUND -> "LIBRARY_NOT_FOUND";
      case DeviceOps.LOAD_SYMBOL_MISSING -> "SYMBOL_MISSING";
      case DeviceOps.LOAD_DRIVER_TOO_OLD -> "DRIVER_TOO_OLD";
      case DeviceOps.LOAD_INIT_FAILED -> "INIT_FAILED";
      default -> "UNKNOWN_STATUS_" + status;
    };
  }

  /**
   * Checks a library file without loading it into this process's runtime: opens it, resolves every
   * entry point, checks the driver version, closes it.
   *
   * @return the outcome, with a message naming the library and any missing symbol
   */
  public static LibraryCheck checkLibrary(RuntimeKind kind, String library) {
    if (kind == RuntimeKind.CPU) {
      throw new IllegalArgumentException("the CPU backend has no library");
    }
    int status = DeviceOps.probe_library(kind.backend(), library);
    return new LibraryCheck(
        kind, library, status == DeviceOps.LOAD_OK, statusName(status), DeviceOps.probe_message());
  }

  /** The outcome of {@link #checkLibrary}. */
  public record LibraryCheck(
      RuntimeKind kind, String library, boolean usable, String status, String message) {}
}
