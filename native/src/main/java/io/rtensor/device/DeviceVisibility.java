package io.rtensor.device;

import io.rtensor.device.internal.DeviceOps;
import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Which physical devices this process's runtimes show it, set the way {@code CUDA_VISIBLE_DEVICES}
 * and {@code ASCEND_RT_VISIBLE_DEVICES} do for a Python process: a worker that its scheduler gave
 * physical devices 2 and 0 calls {@code restrict(RuntimeKind.CUDA, List.of(2, 0))} before anything
 * uses CUDA, and then device 0 of {@link DeviceRuntimes#get DeviceRuntimes.get(CUDA)} (and of any
 * library in the process that opens the driver later) is physical device 2. {@link
 * DeviceRuntime#physicalId(int)} tells which physical device an ordinal is.
 *
 * <p>The variables are set with C {@code setenv} in the process environment, which the runtimes
 * loaded with {@code dlopen} read. The JVM's environment is a copy taken once: {@link
 * System#getenv} does not show what is set here (this class takes that copy before its first
 * change, so it never does), and neither do processes started with {@link ProcessBuilder}, which
 * inherit the JVM's copy; set the variable in {@link ProcessBuilder#environment()} for those. Read
 * the process environment back with {@link #nativeEnv}.
 *
 * <p>The runtimes read their variable once, when they initialise ({@code cuInit}, {@code aclInit}):
 * after that, rtensor refuses to change it with {@link RuntimeAlreadyInitializedException}, unless
 * the value is the one the runtime initialised with. Only rtensor's own initialisation is known
 * here: a library that initialised the driver itself, earlier in the process, is not. {@code
 * setenv} is not safe while other threads read the environment: set visibility at start-up.
 */
public final class DeviceVisibility {
  static {
    // The JDK copies the environment on first use; take that copy now, so System.getenv never
    // shows what this class sets, whatever the order of calls.
    System.getenv();
  }

  private DeviceVisibility() {}

  /**
   * Shows this process only the given physical devices of a runtime, in this order: ordinal {@code
   * i} becomes {@code physicalIds.get(i)}. An empty list shows none (the runtime loads with zero
   * devices). Ids are those of the machine, or of the enclosing restriction where the process's own
   * environment already restricted it.
   *
   * @throws IllegalArgumentException for the CPU, a negative or repeated id, or for Ascend ids not
   *     in ascending order (CANN supports only ascending {@code ASCEND_RT_VISIBLE_DEVICES})
   * @throws RuntimeAlreadyInitializedException if the runtime has initialised in this process with
   *     another value
   */
  public static void restrict(RuntimeKind kind, List<Integer> physicalIds) {
    String variable = variable(kind);
    Objects.requireNonNull(physicalIds, "physicalIds");
    Set<Integer> seen = new HashSet<>();
    int previous = -1;
    for (Integer id : physicalIds) {
      if (id == null || id < 0) {
        throw new IllegalArgumentException("device ids must be >= 0, got " + physicalIds);
      }
      if (!seen.add(id)) {
        throw new IllegalArgumentException("device id " + id + " repeated in " + physicalIds);
      }
      if (kind == RuntimeKind.ASCEND && id < previous) {
        throw new IllegalArgumentException(
            "CANN supports "
                + variable
                + " only in ascending order, got "
                + physicalIds
                + ": sort the ids (ordinals then follow that order)");
      }
      previous = id;
    }
    String value = physicalIds.stream().map(String::valueOf).collect(Collectors.joining(","));
    set(variable, value, "restrict");
  }

  /**
   * Removes the restriction: unsets the runtime's variable, so that it shows every device.
   *
   * @throws RuntimeAlreadyInitializedException if the runtime has initialised in this process while
   *     the variable was set
   */
  public static void unrestrict(RuntimeKind kind) {
    set(variable(kind), null, "unrestrict");
  }

  /**
   * Sets a variable in the process environment ({@code setenv}), or unsets it ({@code unsetenv})
   * when {@code value} is null. Not visible through {@link System#getenv}; see the class comment.
   *
   * @throws IllegalArgumentException if the name is empty or contains {@code '='}, or either string
   *     contains a NUL character
   * @throws RuntimeAlreadyInitializedException for a variable a runtime reads at initialisation,
   *     once that runtime has initialised in this process with another value
   */
  public static void setNativeEnv(String name, String value) {
    set(name, value, "setNativeEnv");
  }

  /** The variable's value in the process environment ({@code getenv}), or empty when unset. */
  public static Optional<String> nativeEnv(String name) {
    checkName(name);
    byte[] buffer = new byte[256];
    for (; ; ) {
      int n = DeviceOps.get_env(name, buffer, buffer.length);
      if (n < 0) {
        return Optional.empty();
      }
      if (n < buffer.length) {
        return Optional.of(new String(buffer, 0, n, StandardCharsets.UTF_8));
      }
      buffer = new byte[n + 1];
    }
  }

  /**
   * Whether the runtime has initialised in this process ({@code cuInit} / {@code aclInit} called by
   * rtensor, on the first {@link DeviceRuntimes#get}); from then on its variable is fixed. False
   * for the CPU, and for a runtime whose library could not be opened.
   */
  public static boolean initialized(RuntimeKind kind) {
    Objects.requireNonNull(kind, "kind");
    return DeviceOps.runtime_initialized(kind.backend()) != 0;
  }

  private static String variable(RuntimeKind kind) {
    Objects.requireNonNull(kind, "kind");
    if (kind == RuntimeKind.CPU) {
      throw new IllegalArgumentException("the CPU backend has no device visibility to restrict");
    }
    return kind.visibleDevicesVariable();
  }

  private static void checkName(String name) {
    Objects.requireNonNull(name, "name");
    if (name.isEmpty() || name.indexOf('=') >= 0 || name.indexOf('\0') >= 0) {
      throw new IllegalArgumentException("invalid environment variable name '" + name + "'");
    }
  }

  private static void set(String name, String value, String operation) {
    checkName(name);
    if (value != null && value.indexOf('\0') >= 0) {
      throw new IllegalArgumentException("the value of " + name + " contains a NUL character");
    }
    int r = DeviceOps.set_env(name, value);
    if (r == 0) {
      return;
    }
    String text = DeviceOps.last_error_text();
    if (r == DeviceOps.RT_E_ALREADY_INITIALIZED) {
      int backend = DeviceOps.env_guard(name);
      RuntimeKind kind = backend == DeviceOps.BACKEND_ACL ? RuntimeKind.ASCEND : RuntimeKind.CUDA;
      throw new RuntimeAlreadyInitializedException(kind, name, operation, text);
    }
    throw new IllegalArgumentException("cannot set " + name + ": " + text);
  }
}
