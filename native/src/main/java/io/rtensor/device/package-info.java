/**
 * Device transport: device runtimes loaded at run time and the copies between device and host.
 *
 * <p>{@link io.rtensor.device.DeviceRuntimes} loads a {@link io.rtensor.device.DeviceRuntime} once
 * per process: {@link io.rtensor.device.RuntimeKind#CPU CPU} (plain host memory, always there),
 * {@link io.rtensor.device.RuntimeKind#CUDA CUDA} (the driver API, {@code libcuda.so.1}) or {@link
 * io.rtensor.device.RuntimeKind#ASCEND Ascend} ({@code libascendcl.so}). The vendor libraries are
 * opened with {@code dlopen}; the project neither links nor needs them to build. The library file
 * can be overridden with the system properties {@code rtensor.cuda.library} / {@code
 * rtensor.acl.library} or the environment variables {@code RTENSOR_CUDA_LIBRARY} / {@code
 * RTENSOR_ACL_LIBRARY}; the first load attempt of a process decides, and {@link
 * io.rtensor.device.RuntimeProbe} reports the outcome.
 *
 * <p>{@link io.rtensor.device.DeviceVisibility} gives a worker the devices its scheduler assigned,
 * as {@code CUDA_VISIBLE_DEVICES} / {@code ASCEND_RT_VISIBLE_DEVICES} do (set in the process
 * environment before the runtime initialises), and {@link
 * io.rtensor.device.DeviceRuntime#physicalId(int)} names the physical device behind an ordinal.
 *
 * <p>A {@link io.rtensor.device.Device} allocates {@link io.rtensor.device.DeviceBuffer}s (or wraps
 * memory another library allocated), page-locked {@link io.rtensor.device.HostBuffer}s, {@link
 * io.rtensor.device.DeviceStream}s and {@link io.rtensor.device.DeviceEvent}s, and copies D2H, H2D
 * and D2D, synchronously or on a stream with a {@link io.rtensor.device.CopyHandle}. {@link
 * io.rtensor.device.ChunkedCopier} pipelines large copies both ways over several streams and serves
 * pageable host memory through page-locked staging. {@link io.rtensor.device.DeviceMemory} is
 * device memory whose references are counted natively, so that another library may drop the last
 * one; {@link io.rtensor.device.Dlpack} imports and exports it as DLPack {@code DLManagedTensor}s.
 * On CUDA, {@link io.rtensor.device.Device#exportIpc} makes a {@link
 * io.rtensor.device.DeviceIpcHandle} of a range of device memory that another process of the
 * machine maps with {@link io.rtensor.device.Device#openIpc} (CUDA IPC). Arguments are checked in
 * Java before native code runs; runtime failures are {@link io.rtensor.device.DeviceException}s.
 *
 * <pre>{@code
 * DeviceRuntime runtime = DeviceRuntimes.best();
 * Device gpu = runtime.device(0);
 * try (PinnedBufferAllocator allocator = PinnedAllocators.create(gpu, 1L << 30);
 *     DeviceBuffer tensor = gpu.wrap(frameworkPointer, bytes);
 *     ArrowBuf host = allocator.buffer(bytes)) {
 *   gpu.copyToHost(tensor, 0, host, 0, bytes); // one DMA into Arrow memory
 * }
 * }</pre>
 *
 * <p>Page-locked Arrow memory lives in {@link io.rtensor.device.arrow}; the JavaCPP mirror of the
 * C++ layer in {@code io.rtensor.device.internal}.
 */
package io.rtensor.device;
