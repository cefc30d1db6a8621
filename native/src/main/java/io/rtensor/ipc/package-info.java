/**
 * Shared memory between the processes of one node: {@link io.rtensor.ipc.SharedSegment} (a sealed
 * memfd, mapped writable by its owner), {@link io.rtensor.ipc.SharedMapping} (a read-only mapping
 * of one received as a descriptor) and {@link io.rtensor.ipc.UnixSocket} (which passes descriptors
 * and names its peer's user). Linux system calls through the native layer ({@code rtensor_shm.h});
 * failures are {@link io.rtensor.ipc.SharedMemoryException}s carrying the errno.
 */
package io.rtensor.ipc;
