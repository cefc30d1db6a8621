package io.rtensor.transport;

/** The outcome of a clear: how many shards were removed, and the location's stats afterwards. */
public record ClearResult(long cleared, StoreStats after) {}
