package io.rtensor.transport;

import io.rtensor.device.Device;
import io.rtensor.handle.RTensor;
import io.rtensor.tensor.DeviceTensor;
import io.rtensor.tensor.Tensor;

/**
 * Turns tensor handles in call arguments into local tensors ({@link #localize}) and tensors in
 * results into handles ({@link #remotize}) on a worker. The data plane provides the real one.
 */
public interface ValueTransport {
  /** Leaves every value as it is. */
  ValueTransport IDENTITY =
      new ValueTransport() {
        @Override
        public Object localize(Object value) {
          return value;
        }

        @Override
        public Object remotize(Object value) {
          return value;
        }
      };

  /** The value with every tensor handle replaced by the tensor it names. */
  Object localize(Object value);

  /** The value with every tensor replaced by a handle to a stored shard. */
  Object remotize(Object value);

  /**
   * {@link #remotize(Object)}; with {@code keepOnDevice}, a transport that can keeps device tensors
   * in device memory until they are cleared (what an engine method annotated {@link
   * io.rtensor.engine.KeepOnDevice} returns). This default ignores it.
   */
  default Object remotize(Object value, boolean keepOnDevice) {
    return remotize(value);
  }

  /**
   * Whether {@link #openOnDevice} may give the tensor {@code handle} names on {@code device}
   * without fetching it. This default: never.
   */
  default boolean canOpenOnDevice(RTensor handle, Device device) {
    return false;
  }

  /**
   * The tensor {@code handle} names, on {@code device}, copied there from its producer's device
   * memory without the host; owned by the caller. Null when it cannot be: localize the handle and
   * copy it with {@link #toDevice} then. This default: null.
   */
  default DeviceTensor openOnDevice(RTensor handle, Device device) {
    return null;
  }

  /**
   * A tensor on {@code device} holding a copy of {@code host}, owned by the caller: how a localized
   * argument reaches an engine parameter of type {@link DeviceTensor}. This default copies it in
   * one synchronous host-to-device copy.
   */
  default DeviceTensor toDevice(Tensor host, Device device) {
    return DeviceTensor.copyOf(device, host);
  }

  /**
   * The clear call every engine server handles: drops these shards from this process's fetch cache.
   * Returns how many were cached.
   */
  default int evict(java.util.Collection<String> shardIds) {
    return 0;
  }
}
