package io.rtensor.transport;

/** A put was refused because the store's cap would be exceeded; nothing stored was lost. */
public final class ShardStoreFullException extends DataPlaneException {
  public ShardStoreFullException(String location, String message) {
    super(location, message);
  }
}
