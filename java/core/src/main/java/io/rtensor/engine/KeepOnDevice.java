package io.rtensor.engine;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Marks an engine method whose returned device tensors stay in the worker's device memory until
 * their shards are cleared, instead of being copied into the worker's store when the call returns.
 *
 * <p>On the Flight data plane each such tensor is copied to the host only when a process first
 * fetches it, once; a worker with a CUDA device on the same node receives it device to device by
 * CUDA IPC, the host untouched, when it takes the tensor on its device (a {@code DeviceTensor}
 * parameter, or a call {@code withDevice}). Until the clear, the memory stays allocated on the
 * producer's device: mark methods whose results are consumed soon and cleared. On the Ray object
 * store plane (objects are written when they are put) and on Ascend (no IPC bound) the tensors are
 * stored as without the annotation.
 */
@Documented
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.METHOD)
public @interface KeepOnDevice {}
