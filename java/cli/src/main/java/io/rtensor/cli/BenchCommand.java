package io.rtensor.cli;

import io.ray.api.Ray;
import io.rtensor.bench.CodecWorkload;
import io.rtensor.bench.Comparison;
import io.rtensor.bench.D2hWorkload;
import io.rtensor.bench.FlightWorkload;
import io.rtensor.bench.Machine;
import io.rtensor.bench.RayPutGetWorkload;
import io.rtensor.bench.Report;
import io.rtensor.bench.Timing;
import io.rtensor.device.Device;
import io.rtensor.scheduler.ray.RayConnection;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.function.BooleanSupplier;
import picocli.CommandLine;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.TypeConversionException;

/**
 * {@code ./rtensor bench}: rtensor's standard comparisons in one run, each subject beside its
 * baseline measured in the same run (interleaved calls, medians): the Arrow shard codec against
 * plain copies, a Flight fetch of 64 shards from a worker JVM against a raw socket copy between the
 * same JVMs, the same fetch over TLS against plaintext Flight, the Ray object store plane against
 * Python {@code ray.put}/{@code ray.get} (when a Ray head is reachable) and device-to-host into
 * pinned Arrow memory against the raw driver copy (when a CUDA GPU is present). Prints a table, or
 * JSON with {@code --json}.
 */
@Command(
    name = "bench",
    description = {
      "Measure codec, Flight, Ray object store and D2H, each beside its baseline.",
      "Each subject is timed beside its baseline in the same run (interleaved calls, median after"
          + " warm-up); ratio = subject throughput / baseline throughput.",
      "  codec   Arrow IPC encode + decode of a float32 shard vs two plain copies",
      "  flight  Flight fetch of 64 shards from a worker JVM vs a raw socket copy",
      "  flight-tls  the same Flight fetch over TLS vs plaintext Flight, same JVMs",
      "  ray     Ray object store plane put + get between two Java actors vs Python",
      "          ray.put + ray.get (needs a head: RTENSOR_RAY_ADDRESS or --ray-address;",
      "          skipped otherwise)",
      "  d2h     device to pinned Arrow memory (ChunkedCopier) vs raw cuMemcpyDtoHAsync",
      "          into cuMemAllocHost memory (needs a CUDA GPU; skipped otherwise)",
      ""
    },
    footer = {"", "Progress goes to stderr. Exit 1 when a comparison that could run failed."},
    sortOptions = false)
final class BenchCommand implements Callable<Integer> {
  static final List<String> ALL = List.of("codec", "flight", "flight-tls", "ray", "d2h");
  private static final int FLIGHT_SHARDS = 64;

  /** The sizes and repetitions of one run. */
  record Settings(
      String preset,
      long codecBytes,
      long flightBytes,
      long rayBytes,
      long d2hBytes,
      int warmup,
      long flightWarmupMs,
      int reps) {
    static Settings quick() {
      return new Settings("quick", 64L << 20, 64L << 20, 16L << 20, 256L << 20, 2, 10_000, 5);
    }

    static Settings full() {
      return new Settings("full", 256L << 20, 1L << 30, 64L << 20, 1L << 30, 3, 25_000, 10);
    }

    Settings withSize(long bytes) {
      return new Settings(preset, bytes, bytes, bytes, bytes, warmup, flightWarmupMs, reps);
    }

    Settings withReps(int n) {
      return new Settings(
          preset, codecBytes, flightBytes, rayBytes, d2hBytes, warmup, flightWarmupMs, n);
    }

    /** Exactly {@code n} warm-up calls of everything: the flight warm-up's time floor goes. */
    Settings withWarmup(int n) {
      return new Settings(preset, codecBytes, flightBytes, rayBytes, d2hBytes, n, 0, reps);
    }

    Map<String, Object> asMap() {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("preset", preset);
      m.put("codecBytes", codecBytes);
      m.put("flightBytes", flightBytes);
      m.put("flightShards", FLIGHT_SHARDS);
      m.put("rayBytes", rayBytes);
      m.put("d2hBytes", d2hBytes);
      m.put("warmup", warmup);
      m.put("flightWarmupMs", flightWarmupMs);
      m.put("reps", reps);
      m.put("timing", "median of reps, subject and baseline interleaved, after warm-up");
      return m;
    }
  }

  /** A parsed command line. */
  record Options(Settings settings, Set<String> only, boolean json, String rayAddress) {}

  @ParentCommand private Main main;
  @Mixin private HelpOption help;

  @ArgGroup(exclusive = true)
  private Preset preset;

  /** {@code --quick} or {@code --full}. */
  static final class Preset {
    @Option(
        names = "--quick",
        description = {
          "(default) codec 64 MiB, flight and flight-tls 64 x 1 MiB, ray 16 MiB, d2h 256 MiB, 2"
              + " warm-up + 5 reps (each flight row warms up for 10 s at least): about a minute and"
              + " a half on 2 cores"
        })
    boolean quick;

    @Option(
        names = "--full",
        description =
            "codec 256 MiB, flight and flight-tls 64 x 16 MiB, ray 64 MiB, d2h 1 GiB, 3 + 10"
                + " (each flight row warms up for 25 s at least)")
    boolean full;
  }

  @Option(
      names = "--size-mib",
      paramLabel = "N",
      converter = Converters.PositiveMebiCount.class,
      description = "bytes per operation of every comparison (flight: N MiB / 64 shards)")
  private Long sizeMib;

  @Option(
      names = "--reps",
      paramLabel = "N",
      converter = Converters.PositiveMebiCount.class,
      description = "measured calls of each subject and baseline (at most 100000)")
  private Long reps;

  @Option(
      names = "--warmup",
      paramLabel = "N",
      converter = Converters.NonNegativeInt.class,
      description = "warm-up calls before them (exactly N: no time floor for flight)")
  private Integer warmup;

  @Option(
      names = "--only",
      paramLabel = "LIST",
      converter = ComparisonList.class,
      description = "run only these comparisons, e.g. --only codec,flight")
  private Selection only;

  @Option(names = "--json", description = "print JSON (machine, settings, results), not the table")
  private boolean json;

  @Mixin private RayOptions ray;

  /** Whether this JVM holds a Ray connection already (a test, an embedding controller). */
  private final BooleanSupplier connectedHere;

  BenchCommand() {
    this(Ray::isInitialized);
  }

  /** A bench that asks {@code connectedHere} whether this JVM is connected to Ray. */
  BenchCommand(BooleanSupplier connectedHere) {
    this.connectedHere = connectedHere;
  }

  /** Comparisons by name, in the order given. */
  record Selection(Set<String> names) {}

  /** {@code codec,flight}: a {@link Selection}. */
  static final class ComparisonList implements ITypeConverter<Selection> {
    @Override
    public Selection convert(String value) {
      Set<String> names = new LinkedHashSet<>();
      for (String name : value.split(",")) {
        if (!ALL.contains(name.strip())) {
          throw new TypeConversionException(
              "unknown comparison '" + name + "' (choose from " + ALL + ")");
        }
        names.add(name.strip());
      }
      return new Selection(names);
    }
  }

  /** The command line {@code args} as options (for tests). */
  static Options parse(String... args) {
    BenchCommand command = new BenchCommand();
    new CommandLine(command).parseArgs(args);
    return command.options();
  }

  /** What the parsed options ask for. */
  Options options() {
    Settings settings = preset != null && preset.full ? Settings.full() : Settings.quick();
    if (sizeMib != null) {
      settings = settings.withSize(sizeMib << 20);
    }
    if (reps != null) {
      settings = settings.withReps((int) Math.min(reps, 100_000));
    }
    if (warmup != null) {
      settings = settings.withWarmup(warmup);
    }
    return new Options(
        settings, only == null ? new LinkedHashSet<>(ALL) : only.names(), json, ray.address());
  }

  @Override
  public Integer call() throws Exception {
    ray.applyLogging();
    PrintStream out = main.out();
    PrintStream err = main.err();
    Options options = options();
    Settings s = options.settings();
    Map<String, String> machine = Machine.describe();
    if (!options.json()) {
      out.println("machine: " + Machine.oneLine(machine));
      out.printf(
          Locale.ROOT,
          "settings: %s, %d warm-up + %d reps of each, medians%n%n",
          s.preset(),
          s.warmup(),
          s.reps());
    }
    List<Comparison> results = new ArrayList<>();
    boolean failed = false;
    for (String name : options.only()) {
      err.println("bench: " + name + " ...");
      Comparison c;
      try {
        c =
            switch (name) {
              case "codec" -> codec(s);
              case "flight" -> flight(s);
              case "flight-tls" -> flightTls(s);
              case "ray" -> ray(s, options.rayAddress());
              case "d2h" -> d2h(s);
              default -> throw new IllegalStateException(name);
            };
      } catch (Exception e) {
        failed = true;
        err.println("bench: " + name + " failed: " + e);
        e.printStackTrace(err);
        c = Comparison.skipped(name, name, "-", Double.NaN, "failed: " + e);
      }
      results.add(c);
    }
    if (options.json()) {
      out.print(Report.json(machine, s.asMap(), results));
    } else {
      out.print(Report.table(results));
    }
    return failed ? 1 : 0;
  }

  /** {@code 1 GiB}, {@code 16 MiB}, {@code 1.5 MiB}, {@code 64 KiB}. */
  static String size(long bytes) {
    if (bytes >= 1L << 30 && bytes % (1L << 30) == 0) {
      return (bytes >> 30) + " GiB";
    } else if (bytes >= 1L << 20) {
      return bytes % (1 << 20) == 0
          ? (bytes >> 20) + " MiB"
          : String.format(Locale.ROOT, "%.1f MiB", bytes / 1048576.0);
    } else if (bytes % 1024 == 0) {
      return (bytes >> 10) + " KiB";
    }
    return bytes + " B";
  }

  static Comparison codec(Settings s) throws Exception {
    try (CodecWorkload w = CodecWorkload.ofBytes(s.codecBytes())) {
      double[] t = Timing.compare(s.warmup(), s.reps(), w::encodeDecode, w::twoPlainCopies);
      return Comparison.measured(
          "codec",
          "Arrow IPC encode+decode, " + size(w.bytes()) + " shard",
          t[0],
          "memcpy x2 (to byte[], back to Arrow)",
          t[1],
          w.bytes(),
          CodecWorkload.GOAL);
    }
  }

  static Comparison flight(Settings s) throws Exception {
    long shardBytes = Math.max(4, s.flightBytes() / FLIGHT_SHARDS / 4 * 4);
    try (FlightWorkload w = new FlightWorkload(FLIGHT_SHARDS, shardBytes, 0, List.of())) {
      // Both JVMs compile Netty's and gRPC's paths for many fetches: warm up by time as well.
      double[] t =
          Timing.compare(s.warmup(), s.flightWarmupMs(), s.reps(), w::flightFetch, w::rawSocket);
      return Comparison.measured(
          "flight",
          "Flight fetch, " + FLIGHT_SHARDS + " x " + size(shardBytes) + " from a worker JVM",
          t[0],
          "raw Java socket copy, same JVMs",
          t[1],
          w.bytes(),
          FlightWorkload.GOAL);
    }
  }

  /**
   * The cost of TLS: the {@code flight} row's fetch over TLS (the session's certificate, the
   * handshake on top) against the same fetch in plaintext, from the same worker JVM.
   */
  static Comparison flightTls(Settings s) throws Exception {
    long shardBytes = Math.max(4, s.flightBytes() / FLIGHT_SHARDS / 4 * 4);
    try (FlightWorkload w = new FlightWorkload(FLIGHT_SHARDS, shardBytes, 0, List.of(), true)) {
      double[] t =
          Timing.compare(
              s.warmup(), s.flightWarmupMs(), s.reps(), w::flightFetchTls, w::flightFetch);
      return Comparison.measured(
          "flight-tls",
          "Flight fetch over TLS, " + FLIGHT_SHARDS + " x " + size(shardBytes),
          t[0],
          "plaintext Flight fetch, same JVMs",
          t[1],
          w.bytes(),
          Double.NaN);
    }
  }

  private static final String RAY_SUBJECT = "Ray object store put+get";
  private static final String RAY_BASELINE = "Python ray.put+ray.get";

  /**
   * Why the Ray row cannot run, or null when it can: this JVM is connected already (that head is
   * used), or a head answers at {@code address}.
   */
  static String rayUnavailable(String address, boolean connectedHere) {
    if (connectedHere) {
      return null;
    }
    if (address == null) {
      return "no Ray head (set RTENSOR_RAY_ADDRESS or --ray-address; scripts/ray-head start)";
    }
    String unreachable = unreachable(address);
    return unreachable == null
        ? null
        : "no Ray head reachable at " + address + " (" + unreachable + ")";
  }

  private Comparison ray(Settings s, String address) throws Exception {
    String subject = RAY_SUBJECT + ", " + size(s.rayBytes()) + ", Java actors";
    boolean connected = connectedHere.getAsBoolean();
    String unavailable = rayUnavailable(address, connected);
    if (unavailable != null) {
      return Comparison.skipped("ray", subject, RAY_BASELINE, RayPutGetWorkload.GOAL, unavailable);
    }
    // Connected already: the head this JVM uses is the one to measure.
    String head = connected ? System.getProperty("ray.address", address) : address;
    Path root = Path.of(System.getProperty("rtensor.root", "."));
    RayConnection connection = connected ? null : ray.connect();
    try (RayPutGetWorkload w = new RayPutGetWorkload(s.rayBytes(), root, head)) {
      double[] t = Timing.compare(s.warmup(), s.reps(), w::javaPutGet, w::pythonPutGet);
      return Comparison.measured(
          "ray",
          subject,
          t[0],
          RAY_BASELINE + ", Python actors",
          t[1],
          w.bytes(),
          RayPutGetWorkload.GOAL);
    } finally {
      if (connection != null) {
        connection.close();
      }
    }
  }

  /** Null when a TCP connection to {@code host:port} opens within 2 s, else why not. */
  private static String unreachable(String address) {
    int colon = address.lastIndexOf(':');
    if (colon <= 0) {
      return "not HOST:PORT";
    }
    try (Socket socket = new Socket()) {
      socket.connect(
          new InetSocketAddress(
              address.substring(0, colon), Integer.parseInt(address.substring(colon + 1))),
          2000);
      return null;
    } catch (IOException | IllegalArgumentException e) {
      return e.getMessage() == null ? e.toString() : e.getMessage();
    }
  }

  static Comparison d2h(Settings s) throws Exception {
    String subject = "D2H into pinned Arrow memory (ChunkedCopier), " + size(s.d2hBytes());
    String baseline = "raw cuMemcpyDtoHAsync into cuMemAllocHost";
    // The goal applies from 64 MiB (smaller copies are latency-bound).
    double goal = s.d2hBytes() >= 64L << 20 ? D2hWorkload.GOAL : Double.NaN;
    Device device;
    try {
      device = D2hWorkload.cudaDevice();
    } catch (D2hWorkload.NoDeviceException e) {
      return Comparison.skipped(
          "d2h", subject, baseline, goal, "no CUDA GPU (" + e.getMessage() + ")");
    }
    try (D2hWorkload w = new D2hWorkload(device, s.d2hBytes())) {
      double[] t =
          Timing.compare(
              Math.max(2, s.warmup()), s.reps(), w::pinnedArrowChunked, w::baselineRawPinned);
      if (!w.pinnedCopiedRight()) {
        throw new IllegalStateException("wrong bytes after the device-to-host copy");
      }
      return Comparison.measured(
          "d2h", subject + " on " + device.name(), t[0], baseline, t[1], w.bytes(), goal);
    }
  }
}
