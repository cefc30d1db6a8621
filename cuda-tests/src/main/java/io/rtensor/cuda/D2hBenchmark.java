package io.rtensor.cuda;

import io.rtensor.device.ChunkedCopier;
import io.rtensor.device.Device;
import io.rtensor.device.DeviceBuffer;
import io.rtensor.device.DeviceRuntime;
import io.rtensor.device.DeviceRuntimes;
import io.rtensor.device.DeviceStream;
import io.rtensor.device.HostMemory;
import io.rtensor.device.RuntimeKind;
import io.rtensor.device.RuntimeUnavailableException;
import io.rtensor.device.arrow.PinnedAllocators;
import io.rtensor.device.arrow.PinnedBufferAllocator;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;

/**
 * Device-to-host throughput of rtensor beside the C++ baseline ({@code d2h_baseline}:
 * cuMemcpyDtoHAsync into cuMemAllocHost memory), run in the same process run and timed the same way
 * (wall clock around the copy and its completion, median of the repetitions).
 *
 * <p>Measures, per size: one async copy into a pinned Arrow buffer ({@link PinnedAllocators}), the
 * chunked copier into the same pinned buffer, and the chunked copier into pageable Arrow memory
 * through page-locked staging. Prints a table with the ratios to the baseline and the goals (pinned
 * >= 0.95 x baseline from 64 MiB, pageable >= 0.8 x baseline from 256 MiB).
 *
 * <p>Usage: {@code D2hBenchmark [--baseline PATH] [--sizes-mib 1,4,...] [--reps N] [--streams N]
 * [--chunk-mib N] [--lanes N] [--staging-kib N]}: streams and chunk size of direct copies, lanes
 * and slot size of staged copies (defaults: {@link ChunkedCopier#create(Device)}'s); {@code
 * D2hBenchmark --check} exits 0 when a CUDA GPU is usable and prints why not otherwise (exit 3).
 */
public final class D2hBenchmark {
  private D2hBenchmark() {}

  /** One measured row. */
  record Row(
      long bytes, double baseline, double pinnedAsync, double pinnedChunked, double pageable) {}

  public static void main(String[] args) throws Exception {
    String baseline = null;
    long[] sizesMib = {1, 4, 16, 64, 256, 1024};
    int reps = 10;
    int streams = ChunkedCopier.DEFAULT_STREAMS;
    long chunkMib = ChunkedCopier.DEFAULT_CHUNK_BYTES >> 20;
    int lanes = ChunkedCopier.DEFAULT_STAGING_LANES;
    long stagingKib = ChunkedCopier.DEFAULT_STAGING_CHUNK_BYTES >> 10;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--check" -> System.exit(check());
        case "--baseline" -> baseline = args[++i];
        case "--sizes-mib" ->
            sizesMib = Arrays.stream(args[++i].split(",")).mapToLong(Long::parseLong).toArray();
        case "--reps" -> reps = Integer.parseInt(args[++i]);
        case "--streams" -> streams = Integer.parseInt(args[++i]);
        case "--chunk-mib" -> chunkMib = Long.parseLong(args[++i]);
        case "--lanes" -> lanes = Integer.parseInt(args[++i]);
        case "--staging-kib" -> stagingKib = Long.parseLong(args[++i]);
        default -> throw new IllegalArgumentException("unknown argument " + args[i]);
      }
    }
    DeviceRuntime cuda = DeviceRuntimes.get(RuntimeKind.CUDA);
    Device device = cuda.device(0);
    System.out.printf(
        Locale.ROOT,
        "rtensor D2H benchmark on %s (%s), driver %d; direct: %d streams, %d MiB chunks;"
            + " staged: %d lanes, %d KiB slots; %d reps%n",
        device.name(),
        cuda.library(),
        cuda.driverVersion(),
        streams,
        chunkMib,
        lanes,
        stagingKib,
        reps);
    Map<Long, Double> base = runBaseline(baseline, sizesMib, reps);
    List<Row> rows = new ArrayList<>();
    for (long mib : sizesMib) {
      rows.add(
          measure(device, mib << 20, reps, streams, chunkMib << 20, lanes, stagingKib << 10, base));
    }
    printTable(rows);
  }

  private static int check() {
    try {
      DeviceRuntime cuda = DeviceRuntimes.get(RuntimeKind.CUDA);
      if (cuda.deviceCount() == 0) {
        System.out.println("no CUDA device visible");
        return 3;
      }
      System.out.println("CUDA GPU: " + cuda.device(0).name());
      return 0;
    } catch (RuntimeUnavailableException e) {
      System.out.println(e.errorText());
      return 3;
    }
  }

  /** Runs the C++ baseline and returns GB/s by size; empty when there is none. */
  private static Map<Long, Double> runBaseline(String binary, long[] sizesMib, int reps)
      throws IOException, InterruptedException {
    Map<Long, Double> gbps = new LinkedHashMap<>();
    if (binary == null) {
      return gbps;
    }
    StringBuilder list = new StringBuilder();
    for (long s : sizesMib) {
      list.append(list.length() == 0 ? "" : ",").append(s);
    }
    Process p =
        new ProcessBuilder(binary, "--sizes-mib", list.toString(), "--reps", String.valueOf(reps))
            .redirectErrorStream(true)
            .start();
    try (BufferedReader r =
        new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
      String line;
      while ((line = r.readLine()) != null) {
        System.out.println("  " + line);
        if (line.startsWith("baseline size_bytes=")) {
          long bytes = 0;
          double rate = 0;
          for (String field : line.substring("baseline ".length()).split(" ")) {
            String[] kv = field.split("=", 2);
            if (kv[0].equals("size_bytes")) {
              bytes = Long.parseLong(kv[1]);
            } else if (kv[0].equals("gbps")) {
              rate = Double.parseDouble(kv[1]);
            }
          }
          gbps.put(bytes, rate);
        }
      }
    }
    int rc = p.waitFor();
    if (rc != 0) {
      System.out.println("  baseline exited with " + rc);
    }
    return gbps;
  }

  private static Row measure(
      Device device,
      long bytes,
      int reps,
      int streams,
      long chunk,
      int lanes,
      long staging,
      Map<Long, Double> base) {
    try (PinnedBufferAllocator pinned = PinnedAllocators.create(device, bytes + (64L << 20));
        BufferAllocator pageable = new RootAllocator(Long.MAX_VALUE);
        DeviceBuffer src = device.allocate(bytes);
        DeviceStream stream = device.createStream();
        ChunkedCopier copier = ChunkedCopier.create(device, chunk, streams, staging, lanes);
        ArrowBuf pinnedOut = pinned.buffer(bytes);
        ArrowBuf pageableOut = pageable.buffer(bytes)) {
      device.fill(src, 0, bytes, 0x5A);
      HostMemory pinnedMemory = HostMemory.of(pinnedOut);
      HostMemory pageableMemory = HostMemory.of(pageableOut);
      double async =
          rate(
              bytes,
              reps,
              () -> device.copyToHostAsync(src, 0, pinnedMemory, 0, bytes, stream).close());
      double chunked = rate(bytes, reps, () -> copier.copyToHost(src, 0, pinnedMemory, 0, bytes));
      double staged = rate(bytes, reps, () -> copier.copyToHost(src, 0, pageableMemory, 0, bytes));
      if (pinnedOut.getByte(bytes - 1) != 0x5A || pageableOut.getByte(bytes - 1) != 0x5A) {
        throw new IllegalStateException("wrong bytes after the copy of " + bytes + " bytes");
      }
      return new Row(bytes, base.getOrDefault(bytes, Double.NaN), async, chunked, staged);
    }
  }

  /** Median GB/s over {@code reps} runs after two warm-up runs. */
  private static double rate(long bytes, int reps, Runnable copy) {
    double[] seconds = new double[reps];
    for (int r = -2; r < reps; r++) {
      long t0 = System.nanoTime();
      copy.run();
      long t1 = System.nanoTime();
      if (r >= 0) {
        seconds[r] = (t1 - t0) / 1e9;
      }
    }
    Arrays.sort(seconds);
    return bytes / seconds[reps / 2] / 1e9;
  }

  private static void printTable(List<Row> rows) {
    System.out.println();
    System.out.println(
        "   size | baseline GB/s | pinned GB/s (x base) | chunked pinned (x) | pageable staged (x)"
            + " | goals");
    boolean allMet = true;
    int judged = 0;
    for (Row r : rows) {
      double pinnedRatio = Math.max(r.pinnedAsync(), r.pinnedChunked()) / r.baseline();
      double pageableRatio = r.pageable() / r.baseline();
      StringBuilder goals = new StringBuilder();
      if (r.bytes() >= 64L << 20 && !Double.isNaN(r.baseline())) {
        boolean met = pinnedRatio >= 0.95;
        allMet &= met;
        judged++;
        goals.append("pinned>=0.95 ").append(met ? "MET" : "MISSED");
      }
      if (r.bytes() >= 256L << 20 && !Double.isNaN(r.baseline())) {
        boolean met = pageableRatio >= 0.8;
        allMet &= met;
        judged++;
        goals.append(", pageable>=0.8 ").append(met ? "MET" : "MISSED");
      }
      System.out.printf(
          Locale.ROOT,
          "%5d MiB | %13.2f | %11.2f (%5.2f) | %10.2f (%5.2f) | %11.2f (%5.2f) | %s%n",
          r.bytes() >> 20,
          r.baseline(),
          r.pinnedAsync(),
          r.pinnedAsync() / r.baseline(),
          r.pinnedChunked(),
          r.pinnedChunked() / r.baseline(),
          r.pageable(),
          pageableRatio,
          goals);
    }
    if (judged == 0) {
      System.out.println("D2H goals: none judged (they apply from 64 MiB, with a baseline)");
    } else {
      System.out.println(
          allMet
              ? "D2H goals: all " + judged + " met"
              : "D2H goals: some of " + judged + " missed (see above)");
    }
  }
}
