package io.rtensor.transport;

/**
 * What one location stores: shards, bytes held for them (the encoded streams) and the cap ({@code
 * -1}: none of ours).
 */
public record StoreStats(String location, long entries, long bytes, long capBytes) {}
