package io.rtensor.device;

import io.rtensor.device.internal.DeviceOps;

/** The one implementation of {@link DeviceRuntime}: a backend of the native layer. */
final class NativeRuntime implements DeviceRuntime {
  private final RuntimeKind kind;
  private final String library;
  private final int deviceCount;
  private final Device[] devices;

  NativeRuntime(RuntimeKind kind, String library) {
    this.kind = kind;
    this.library = library;
    int[] count = new int[1];
    check(DeviceOps.device_count(kind.backend(), count), "deviceCount", -1, -1);
    this.deviceCount = count[0];
    this.devices = new Device[deviceCount];
    for (int i = 0; i < deviceCount; i++) {
      devices[i] = new Device(this, i);
    }
  }

  int backend() {
    return kind.backend();
  }

  @Override
  public RuntimeKind kind() {
    return kind;
  }

  @Override
  public String library() {
    return library;
  }

  @Override
  public int driverVersion() {
    return DeviceOps.driver_version(kind.backend());
  }

  @Override
  public int deviceCount() {
    return deviceCount;
  }

  @Override
  public Device device(int index) {
    if (index < 0 || index >= deviceCount) {
      throw new IllegalArgumentException(
          kind + " has " + deviceCount + " device(s); no device " + index);
    }
    return devices[index];
  }

  @Override
  public boolean isFake() {
    return kind != RuntimeKind.CPU && DeviceOps.is_fake(kind.backend()) == 1;
  }

  @Override
  public boolean supportsEvents() {
    return kind != RuntimeKind.ASCEND;
  }

  @Override
  public void releaseDevices() {
    check(DeviceOps.release_devices(kind.backend()), "releaseDevices", -1, -1);
  }

  /** Turns a native status into a {@link DeviceException}, reading the thread's last error. */
  void check(int code, String operation, int device, long bytes) {
    if (code != 0) {
      throw error(code, operation, device, bytes);
    }
  }

  DeviceException error(int code, String operation, int device, long bytes) {
    return new DeviceException(
        kind,
        DeviceOps.last_error_name(),
        DeviceOps.last_error_text(),
        code,
        device,
        operation,
        bytes);
  }

  @Override
  public String toString() {
    return kind + (library.isEmpty() ? "" : " (" + library + ")");
  }
}
