package io.rtensor.device;

import io.rtensor.device.internal.DeviceOps;
import io.rtensor.device.internal.HostOps;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Pipelined device-to-host copies for large tensors: the copy is cut into chunks spread over
 * several streams so the chunks' DMAs overlap.
 *
 * <p>A page-locked destination receives every chunk directly. A pageable destination is served
 * through page-locked staging buffers: each stream has one lane thread with two staging halves; the
 * lane queues the DMA of its next chunk into one half while it copies the previous chunk out of the
 * other half into the destination, so host copies and DMAs of all lanes overlap.
 *
 * <p>Owns its streams, events, staging memory and lane threads; one copy at a time per copier.
 */
public final class ChunkedCopier implements AutoCloseable {
  /** Default chunk size: 8 MiB. */
  public static final long DEFAULT_CHUNK_BYTES = 8L << 20;

  /** Default number of streams. */
  public static final int DEFAULT_STREAMS = 4;

  private final Device device;
  private final long chunkBytes;
  private final List<DeviceStream> streams = new ArrayList<>();
  private final List<Lane> lanes = new ArrayList<>();
  private ExecutorService laneThreads;
  private boolean closed;

  private ChunkedCopier(Device device, long chunkBytes, int streamCount) {
    this.device = device;
    this.chunkBytes = chunkBytes;
    try {
      for (int i = 0; i < streamCount; i++) {
        streams.add(device.createStream());
      }
    } catch (RuntimeException e) {
      closeQuietly();
      throw e;
    }
  }

  /** A copier for a device with the given chunk size and stream count. */
  public static ChunkedCopier create(Device device, long chunkBytes, int streamCount) {
    if (device == null) {
      throw new NullPointerException("device");
    }
    if (chunkBytes <= 0) {
      throw new IllegalArgumentException("chunk size must be > 0, got " + chunkBytes);
    }
    if (streamCount <= 0 || streamCount > 64) {
      throw new IllegalArgumentException("stream count must be in [1, 64], got " + streamCount);
    }
    return new ChunkedCopier(device, chunkBytes, streamCount);
  }

  /** A copier with the defaults (8 MiB chunks, 4 streams). */
  public static ChunkedCopier create(Device device) {
    return create(device, DEFAULT_CHUNK_BYTES, DEFAULT_STREAMS);
  }

  /** The chunk size in bytes. */
  public long chunkBytes() {
    return chunkBytes;
  }

  /** The number of streams. */
  public int streamCount() {
    return streams.size();
  }

  /** The number of chunks a copy of {@code bytes} bytes is cut into. */
  public long chunkCount(long bytes) {
    return bytes == 0 ? 0 : (bytes + chunkBytes - 1) / chunkBytes;
  }

  /**
   * Copies {@code bytes} bytes from device memory to host memory and returns when they have all
   * arrived. Pinned destinations get the chunks' DMAs directly; pageable ones through staging.
   */
  public synchronized void copyToHost(
      DeviceBuffer src, long srcOffset, HostMemory dst, long dstOffset, long bytes) {
    if (closed) {
      throw new IllegalStateException("copier is closed");
    }
    device.checkOwn(src, "source");
    if (dst == null) {
      throw new NullPointerException("destination");
    }
    Ranges.check("source", srcOffset, bytes, src.size());
    Ranges.check("destination", dstOffset, bytes, dst.size());
    if (bytes == 0) {
      return;
    }
    long from = src.address() + srcOffset;
    long to = dst.address() + dstOffset;
    if (dst.pinned() || device.kind() == RuntimeKind.CPU) {
      copyDirect(from, to, bytes);
    } else {
      copyStaged(from, to, bytes);
    }
  }

  private void copyDirect(long from, long to, long bytes) {
    long chunks = chunkCount(bytes);
    int used = (int) Math.min(chunks, streams.size());
    RuntimeException failure = null;
    try {
      for (long c = 0; c < chunks; c++) {
        long offset = c * chunkBytes;
        long n = Math.min(chunkBytes, bytes - offset);
        DeviceStream stream = streams.get((int) (c % streams.size()));
        device.enqueueCopy(
            DeviceOps.COPY_D2H, to + offset, from + offset, n, stream, "memcpyDtoHAsync");
      }
    } catch (RuntimeException e) {
      failure = e;
    }
    // Always drain every stream used, so nothing is in flight into the destination on return.
    for (int i = 0; i < used; i++) {
      try {
        streams.get(i).synchronize();
      } catch (RuntimeException e) {
        if (failure == null) {
          failure = e;
        }
      }
    }
    if (failure != null) {
      throw failure;
    }
  }

  private void copyStaged(long from, long to, long bytes) {
    ensureLanes();
    long chunks = chunkCount(bytes);
    int used = (int) Math.min(chunks, lanes.size());
    AtomicReference<RuntimeException> failure = new AtomicReference<>();
    List<Future<?>> running = new ArrayList<>(used);
    for (int i = 0; i < used; i++) {
      Lane lane = lanes.get(i);
      int first = i;
      running.add(
          laneThreads.submit(
              () -> lane.run(from, to, bytes, first, lanes.size(), chunks, failure)));
    }
    boolean interrupted = false;
    for (Future<?> f : running) {
      while (true) {
        try {
          f.get();
          break;
        } catch (InterruptedException e) {
          interrupted = true;
        } catch (java.util.concurrent.ExecutionException e) {
          failure.compareAndSet(null, new IllegalStateException("lane failed", e.getCause()));
          break;
        }
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
    if (failure.get() != null) {
      throw failure.get();
    }
  }

  private void ensureLanes() {
    if (!lanes.isEmpty()) {
      return;
    }
    try {
      for (DeviceStream stream : streams) {
        lanes.add(new Lane(stream));
      }
    } catch (RuntimeException e) {
      for (Lane lane : lanes) {
        lane.close();
      }
      lanes.clear();
      throw e;
    }
    laneThreads =
        Executors.newFixedThreadPool(
            lanes.size(),
            r -> {
              Thread t = new Thread(r, "rtensor-d2h-lane-" + device);
              t.setDaemon(true);
              return t;
            });
  }

  /** One stream with a two-half staging buffer and an event per half. */
  private final class Lane implements AutoCloseable {
    private final DeviceStream stream;
    private final HostBuffer staging;
    private final DeviceEvent[] ready = new DeviceEvent[2];

    Lane(DeviceStream stream) {
      this.stream = stream;
      this.staging = device.allocateHost(2 * chunkBytes);
      try {
        if (device.nativeRuntime().supportsEvents()) {
          ready[0] = device.createCompletionEvent();
          ready[1] = device.createCompletionEvent();
        }
      } catch (RuntimeException e) {
        close();
        throw e;
      }
    }

    /** Copies chunks first, first + stride, ... of the transfer. */
    void run(
        long from,
        long to,
        long bytes,
        int first,
        int stride,
        long chunks,
        AtomicReference<RuntimeException> failure) {
      long pendingChunk = -1;
      int pendingHalf = 0;
      int half = 0;
      try {
        for (long c = first; c < chunks && failure.get() == null; c += stride) {
          long offset = c * chunkBytes;
          long n = Math.min(chunkBytes, bytes - offset);
          long stage = staging.address() + half * chunkBytes;
          device.enqueueCopy(
              DeviceOps.COPY_D2H, stage, from + offset, n, stream, "memcpyDtoHAsync");
          if (ready[0] != null) {
            ready[half].record(stream);
          }
          if (pendingChunk >= 0) {
            drain(pendingChunk, pendingHalf, to, bytes);
          }
          pendingChunk = c;
          pendingHalf = half;
          half ^= 1;
        }
        if (pendingChunk >= 0 && failure.get() == null) {
          drain(pendingChunk, pendingHalf, to, bytes);
        }
      } catch (RuntimeException e) {
        failure.compareAndSet(null, e);
      } finally {
        try {
          stream.synchronize();
        } catch (RuntimeException e) {
          failure.compareAndSet(null, e);
        }
      }
    }

    private void drain(long chunk, int half, long to, long bytes) {
      if (ready[0] != null) {
        ready[half].synchronize();
      } else {
        stream.synchronize();
      }
      long offset = chunk * chunkBytes;
      long n = Math.min(chunkBytes, bytes - offset);
      HostOps.copy_bytes(to + offset, staging.address() + half * chunkBytes, n);
    }

    @Override
    public void close() {
      for (DeviceEvent e : ready) {
        if (e != null) {
          e.close();
        }
      }
      staging.close();
    }
  }

  private void closeQuietly() {
    for (DeviceStream s : streams) {
      try {
        s.close();
      } catch (RuntimeException ignored) {
        // closing after a failed construction: the first error is the one reported
      }
    }
  }

  /** Stops the lane threads and frees streams, events and staging memory; idempotent. */
  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    if (laneThreads != null) {
      laneThreads.shutdownNow();
    }
    RuntimeException failure = null;
    for (Lane lane : lanes) {
      try {
        lane.close();
      } catch (RuntimeException e) {
        failure = failure == null ? e : failure;
      }
    }
    for (DeviceStream s : streams) {
      try {
        s.close();
      } catch (RuntimeException e) {
        failure = failure == null ? e : failure;
      }
    }
    if (failure != null) {
      throw failure;
    }
  }
}
