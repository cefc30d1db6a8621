package io.rtensor.bench;

import io.rtensor.device.Device;
import io.rtensor.device.DeviceBuffer;
import io.rtensor.device.DeviceIpcHandle;
import io.rtensor.device.HostBuffer;
import io.rtensor.device.HostMemory;
import io.rtensor.device.RawDriverCopy;
import io.rtensor.engine.Engine;
import io.rtensor.engine.EngineContext;
import io.rtensor.engine.KeepOnDevice;
import io.rtensor.tensor.DType;
import io.rtensor.tensor.DeviceTensor;
import io.rtensor.tensor.Shape;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.apache.arrow.memory.util.MemoryUtil;

/**
 * The engine of both workers of {@link GpuToGpuWorkload}, on the worker's device. As the producer
 * it holds shards on its device and returns them as device tensors ({@link #produce}, the rtensor
 * path); as the consumer it takes device tensors as parameters, received on its device ({@link
 * #consume}). Beside that path, the two halves of the baseline, a serial raw chain between the same
 * two processes: the producer copies every shard to page-locked {@code cuMemAllocHost} memory with
 * the driver's own copy ({@link RawDriverCopy}) and then writes them all to a plain socket ({@link
 * #rawSend}); the consumer reads them all into its page-locked memory and then copies each onto its
 * device with the driver's own copy ({@link #rawReceive}). Every shard holds {@link DeviceBytes
 * seeded bytes} (seed {@code seed + i} for shard {@code i}), which the consumer checks ({@link
 * #consumeAndCheck}, {@link #checkRawReceived}). For a CUDA IPC handoff the rtensor path is {@link
 * #produceKept} and the raw chain {@link #rawExportIpc} then {@link #rawOpenIpc}.
 */
public class DeviceBenchEngine implements Engine {
  /** How long one blocking step of the raw socket chain may take before its socket is closed. */
  static final long STEP_TIMEOUT_MS = 10 * 60_000L;

  private static final ScheduledExecutorService WATCHDOG =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "bench-raw-socket-watchdog");
            t.setDaemon(true);
            return t;
          });

  private Device device;
  private final List<DeviceTensor> shards = new ArrayList<>();
  private final List<DeviceBuffer> rawTargets = new ArrayList<>();
  private HostBuffer staging;
  private RawDriverCopy raw;
  private long shardBytes;
  private ServerSocketChannel listener;
  private SocketChannel channel;

  public DeviceBenchEngine() {}

  @Override
  public void initialize(EngineContext context) {
    device = context.device();
    if (device == null) {
      throw new IllegalStateException(
          context.workerId() + " holds no device (a GPU job, and a device runtime that loads)");
    }
  }

  /** The worker's device, as a report names it: {@code cuda:0 (NAME, PCI id)}. */
  public String describeDevice() {
    return device + " (" + device.name() + ", " + device.physicalId() + ")";
  }

  /** The worker's device's physical identity. */
  public String physicalId() {
    return device.physicalId();
  }

  /**
   * Makes this the producer: {@code count} uint8 shards of {@code shardBytes} bytes on its device,
   * shard {@code i} holding the bytes of {@code seed + i}, and page-locked memory for the raw
   * chain.
   */
  public void prepareProducer(int count, long shardBytes, long seed) {
    prepare(count, shardBytes);
    for (int i = 0; i < count; i++) {
      DeviceTensor t = DeviceTensor.allocate(device, DType.UINT8, Shape.of(shardBytes));
      shards.add(t);
      DeviceBytes.seed(device, stagingSlice(i), t.buffer(), seed + i);
    }
  }

  /**
   * Makes this the consumer: {@code count} device buffers of {@code shardBytes} bytes that the raw
   * chain copies into, page-locked memory it receives into, and a socket the producer connects to
   * (on {@code host}); returns its port.
   */
  public int prepareConsumer(int count, long shardBytes, String host) throws IOException {
    prepare(count, shardBytes);
    for (int i = 0; i < count; i++) {
      rawTargets.add(device.allocate(shardBytes));
    }
    listener = ServerSocketChannel.open();
    listener.bind(new InetSocketAddress(host, 0));
    return ((InetSocketAddress) listener.getLocalAddress()).getPort();
  }

  /** As {@link #prepareConsumer(int, long, String)} for a chain without a socket (Ray). */
  public void prepareConsumer(int count, long shardBytes) {
    prepare(count, shardBytes);
    for (int i = 0; i < count; i++) {
      rawTargets.add(device.allocate(shardBytes));
    }
  }

  private void prepare(int count, long shardBytes) {
    if (staging != null) {
      throw new IllegalStateException("prepared already");
    }
    if (count < 1 || shardBytes < 1 || shardBytes > Integer.MAX_VALUE) {
      throw new IllegalArgumentException(count + " shards of " + shardBytes + " bytes");
    }
    this.shardBytes = shardBytes;
    staging = device.allocateHost(count * shardBytes);
    raw = RawDriverCopy.create(device);
  }

  /** The producer's shards, as device tensors the worker stores (it closes these references). */
  public List<DeviceTensor> produce() {
    List<DeviceTensor> out = new ArrayList<>(shards.size());
    shards.forEach(t -> out.add(t.share()));
    return out;
  }

  /**
   * The producer's shards kept in its device memory until cleared ({@link KeepOnDevice}): a
   * consumer on this machine receives them device to device by CUDA IPC.
   */
  @KeepOnDevice
  public List<DeviceTensor> produceKept() {
    return produce();
  }

  /**
   * The producer's half of the raw IPC chain: a CUDA IPC handle to each shard's memory ({@code
   * cuMemGetAddressRange} and {@code cuIpcGetMemHandle}, through the device binding), in the
   * handles' binary form.
   */
  public List<byte[]> rawExportIpc() {
    List<byte[]> out = new ArrayList<>(shards.size());
    for (DeviceTensor t : shards) {
      out.add(device.exportIpc(t.buffer(), 0, t.byteSize()).toBytes());
    }
    return out;
  }

  /**
   * The consumer's half of the raw IPC chain: maps each of the producer's shards ({@code
   * cuIpcOpenMemHandle}), copies it device to device onto its buffer here ({@code cuMemcpyDtoD})
   * and unmaps it ({@code cuIpcCloseMemHandle}); returns the bytes copied.
   */
  public long rawOpenIpc(List<byte[]> handles) {
    if (handles.size() != rawTargets.size()) {
      throw new IllegalArgumentException(
          handles.size() + " IPC handles for " + rawTargets.size() + " buffers");
    }
    for (int i = 0; i < handles.size(); i++) {
      try (DeviceBuffer mapped = device.openIpc(DeviceIpcHandle.fromBytes(handles.get(i)))) {
        device.copyOnDevice(mapped, 0, rawTargets.get(i), 0, shardBytes);
      }
    }
    return rawTargets.size() * shardBytes;
  }

  /** Takes the producer's shards, received on this worker's device; returns their bytes. */
  public long consume(List<DeviceTensor> received) {
    long n = 0;
    for (DeviceTensor t : received) {
      n += t.byteSize();
    }
    return n;
  }

  /**
   * As {@link #consume}, checking that each tensor is on this worker's device and holds its seeded
   * bytes (read back into page-locked memory); returns their bytes.
   */
  public long consumeAndCheck(List<DeviceTensor> received, long seed) {
    long n = 0;
    for (int i = 0; i < received.size(); i++) {
      DeviceTensor t = received.get(i);
      if (!t.device().equals(device)) {
        throw new IllegalStateException("tensor " + i + " arrived on " + t.device() + ", not here");
      }
      if (t.byteSize() != shardBytes) {
        throw new IllegalStateException("tensor " + i + " has " + t.byteSize() + " bytes");
      }
      device.copyToHost(t.buffer(), 0, staging.memory(), 0, shardBytes);
      DeviceBytes.check("the rtensor path, shard " + i, staging.address(), shardBytes, seed + i);
      n += shardBytes;
    }
    return n;
  }

  /** Connects the producer's end of the raw socket chain to the consumer at {@code host:port}. */
  public void rawConnect(String host, int port) throws IOException {
    channel = SocketChannel.open(new InetSocketAddress(host, port));
  }

  /**
   * The producer's half of the raw chain: every shard to page-locked memory (the driver's copy,
   * called directly), then all of them to the socket.
   */
  public long rawSend() throws IOException {
    copyShardsToStaging();
    return inStep(
        () -> {
          for (int i = 0; i < shards.size(); i++) {
            ByteBuffer b = MemoryUtil.directBuffer(stagingSlice(i).address(), (int) shardBytes);
            while (b.hasRemaining()) {
              channel.write(b);
            }
          }
          return shards.size() * shardBytes;
        });
  }

  /**
   * The consumer's half of the raw chain: every shard read from the socket into page-locked memory,
   * then each copied onto this device (the driver's copy, called directly).
   */
  public long rawReceive() throws IOException {
    if (channel == null) {
      // The producer connected while the workload was set up: the connection is queued.
      channel = listener.accept();
    }
    inStep(
        () -> {
          for (int i = 0; i < rawTargets.size(); i++) {
            ByteBuffer b = MemoryUtil.directBuffer(stagingSlice(i).address(), (int) shardBytes);
            while (b.hasRemaining()) {
              if (channel.read(b) < 0) {
                throw new IOException("the producer's socket closed early");
              }
            }
          }
          return 0L;
        });
    copyStagingToDevice(i -> stagingSlice(i));
    return rawTargets.size() * shardBytes;
  }

  /** Checks that the raw chain's device buffers hold their seeded bytes; returns their bytes. */
  public long checkRawReceived(long seed) {
    for (int i = 0; i < rawTargets.size(); i++) {
      device.copyToHost(rawTargets.get(i), 0, staging.memory(), 0, shardBytes);
      DeviceBytes.check("the raw chain, shard " + i, staging.address(), shardBytes, seed + i);
    }
    return rawTargets.size() * shardBytes;
  }

  /** A blocking step of the raw socket chain; its socket is closed if it outlives the timeout. */
  private long inStep(IoStep step) throws IOException {
    SocketChannel c = channel;
    ScheduledFuture<?> watchdog =
        WATCHDOG.schedule(
            () -> {
              try {
                c.close();
              } catch (IOException e) {
                // closing is all the watchdog does
              }
            },
            STEP_TIMEOUT_MS,
            TimeUnit.MILLISECONDS);
    try {
      return step.run();
    } finally {
      watchdog.cancel(false);
    }
  }

  @FunctionalInterface
  private interface IoStep {
    long run() throws IOException;
  }

  /** Every shard into its slice of the page-locked memory, the driver's copy called directly. */
  protected void copyShardsToStaging() {
    for (int i = 0; i < shards.size(); i++) {
      raw.toHost(shards.get(i).buffer(), 0, staging.memory(), i * shardBytes, shardBytes);
    }
  }

  /** Copies {@code sources.source(i)} onto device buffer {@code i}, the driver's copy, directly. */
  protected void copyStagingToDevice(Sources sources) {
    for (int i = 0; i < rawTargets.size(); i++) {
      raw.toDevice(sources.source(i), 0, rawTargets.get(i), 0, shardBytes);
    }
  }

  /** Where the bytes of device buffer {@code i} come from. */
  @FunctionalInterface
  protected interface Sources {
    HostMemory source(int i);
  }

  /** Shard {@code i}'s slice of the page-locked memory (page-locked too). */
  protected HostMemory stagingSlice(int i) {
    return HostMemory.pinned(staging.address() + i * shardBytes, shardBytes);
  }

  /** The number of shards of the producer, or of device buffers of the consumer. */
  protected int count() {
    return Math.max(shards.size(), rawTargets.size());
  }

  /** Bytes of one shard. */
  protected long shardBytes() {
    return shardBytes;
  }

  @Override
  public void destroy() throws IOException {
    try {
      if (channel != null) {
        channel.close();
      }
      if (listener != null) {
        listener.close();
      }
    } finally {
      shards.forEach(DeviceTensor::close);
      shards.clear();
      rawTargets.forEach(DeviceBuffer::close);
      rawTargets.clear();
      if (raw != null) {
        raw.close();
      }
      if (staging != null) {
        staging.close();
      }
    }
  }
}
