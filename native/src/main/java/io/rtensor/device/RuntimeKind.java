package io.rtensor.device;

import io.rtensor.device.internal.DeviceOps;

/** The device runtimes rtensor can drive; which ones work is decided at run time. */
public enum RuntimeKind {
  /** Plain host memory; always available. */
  CPU(DeviceOps.BACKEND_CPU, "", "", "", ""),
  /** The NVIDIA CUDA driver API, {@code libcuda.so.1}. */
  CUDA(
      DeviceOps.BACKEND_CUDA,
      "rtensor.cuda.library",
      "RTENSOR_CUDA_LIBRARY",
      "libcuda.so.1",
      "CUDA_VISIBLE_DEVICES"),
  /** The Ascend CANN runtime (AscendCL), {@code libascendcl.so}. */
  ASCEND(
      DeviceOps.BACKEND_ACL,
      "rtensor.acl.library",
      "RTENSOR_ACL_LIBRARY",
      "libascendcl.so",
      "ASCEND_RT_VISIBLE_DEVICES");

  private final int backend;
  private final String libraryProperty;
  private final String libraryEnvironment;
  private final String defaultLibrary;
  private final String visibleDevicesVariable;

  RuntimeKind(
      int backend,
      String property,
      String environment,
      String defaultLibrary,
      String visibleDevicesVariable) {
    this.backend = backend;
    this.libraryProperty = property;
    this.libraryEnvironment = environment;
    this.defaultLibrary = defaultLibrary;
    this.visibleDevicesVariable = visibleDevicesVariable;
  }

  int backend() {
    return backend;
  }

  /** The system property that overrides the library file (empty for the CPU). */
  public String libraryProperty() {
    return libraryProperty;
  }

  /** The environment variable that overrides the library file (empty for the CPU). */
  public String libraryEnvironment() {
    return libraryEnvironment;
  }

  /**
   * The environment variable through which the runtime shows a process only some physical devices,
   * read once when the runtime initialises: {@code CUDA_VISIBLE_DEVICES}, {@code
   * ASCEND_RT_VISIBLE_DEVICES}; empty for the CPU. See {@link DeviceVisibility}.
   */
  public String visibleDevicesVariable() {
    return visibleDevicesVariable;
  }

  /**
   * The library file the loader opens: the system property if set, else the environment variable,
   * else the vendor's default name (found through the dynamic linker's search path).
   */
  public String libraryPath() {
    if (this == CPU) {
      return "";
    }
    String fromProperty = System.getProperty(libraryProperty);
    if (fromProperty != null && !fromProperty.isBlank()) {
      return fromProperty;
    }
    String fromEnvironment = System.getenv(libraryEnvironment);
    if (fromEnvironment != null && !fromEnvironment.isBlank()) {
      return fromEnvironment;
    }
    return defaultLibrary;
  }
}
