package io.rtensor.cli;

import io.ray.api.Ray;
import io.rtensor.bench.CodecWorkload;
import io.rtensor.bench.Comparison;
import io.rtensor.bench.CopyWorkload;
import io.rtensor.bench.D2hWorkload;
import io.rtensor.bench.FlightWorkload;
import io.rtensor.bench.GpuToGpuWorkload;
import io.rtensor.bench.H2dWorkload;
import io.rtensor.bench.Machine;
import io.rtensor.bench.RayPutGetWorkload;
import io.rtensor.bench.Report;
import io.rtensor.bench.Timing;
import io.rtensor.device.Device;
import io.rtensor.device.RuntimeKind;
import io.rtensor.scheduler.local.LocalScheduler;
import io.rtensor.scheduler.ray.RayConnection;
import io.rtensor.scheduler.ray.RayScheduler;
import io.rtensor.transport.DataPlaneKind;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
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
 * same JVMs, the same fetch over TLS against plaintext Flight, 10,000 small shards against
 * length-prefixed messages on a raw socket, the Ray object store plane against Python {@code
 * ray.put}/{@code ray.get} (when a Ray head is reachable), the same two across two Ray nodes (when
 * the head has two nodes, or {@code --nodes 2} starts one), device-to-host into and host-to-device
 * from pinned Arrow memory against the driver's own copy called directly, and device tensors from
 * one worker's GPU to another's through Flight and through the object store against a serial raw
 * chain between the same workers (when a CUDA GPU is present). On a fake CUDA runtime (the CPU-only
 * tests' {@code RTENSOR_CUDA_LIBRARY}) the device rows run end to end with their bytes checked and
 * are reported as checks, never as speed. Prints a table, or JSON with {@code --json}.
 */
@Command(
    name = "bench",
    description = {
      "Measure codec, Flight, Ray object store and GPU copies, each beside its baseline.",
      "Each subject is timed beside its baseline in the same run (interleaved calls, median after"
          + " warm-up); ratio = subject throughput / baseline throughput.",
      "  codec   Arrow IPC encode + decode of a float32 shard vs two plain copies",
      "  flight  Flight fetch of 64 shards from a worker JVM vs a raw socket copy",
      "  flight-small  Flight fetch of 10,000 x 4 KiB shards from a worker JVM vs the",
      "          same shards as length-prefixed messages in one raw socket stream",
      "  same-node  the flight row's 64 shards from the same worker JVM through shared",
      "          memory (a read-only mapping, copied once) vs the same raw socket copy",
      "  flight-tls  the same Flight fetch over TLS vs plaintext Flight, same JVMs",
      "  ray     Ray object store plane put + get between two Java actors vs Python",
      "          ray.put + ray.get (needs a head: RTENSOR_RAY_ADDRESS or --ray-address;",
      "          skipped otherwise)",
      "  ray-cross-node     the same with 16 shards, the producer actor on one Ray node",
      "          and the consumer on another, vs Python actors on the same two nodes",
      "  flight-cross-node  Flight fetch of 16 shards from a worker JVM serving on the",
      "          other node's IP to this node's IP vs a raw socket between the same IPs",
      "          (both need a head of two nodes or more, or --nodes 2 to start one;",
      "          skipped otherwise)",
      "  d2h     device to pinned Arrow memory (ChunkedCopier) vs cuMemcpyDtoHAsync +",
      "          cuStreamSynchronize into cuMemAllocHost memory, direct driver calls",
      "  h2d     pinned Arrow memory to the device (ChunkedCopier) vs",
      "          cuMemcpyHtoDAsync + cuStreamSynchronize from cuMemAllocHost memory,",
      "          direct driver calls",
      "  gpu-to-gpu-flight  16 device tensors from a producer engine's GPU to a",
      "          consumer engine's GPU (local workers, Flight) vs a serial raw chain",
      "          between the same workers: direct-driver D2H, raw socket copy,",
      "          direct-driver H2D",
      "  gpu-to-gpu-ray     the same between two Ray actors through the object store",
      "          vs direct-driver D2H, plasma put, get, direct-driver H2D (needs a",
      "          Ray head)",
      "  gpu-to-gpu-ipc     the same kept on the producer's GPU (@KeepOnDevice) and",
      "          copied device to device by CUDA IPC (local workers) vs the driver's",
      "          IPC calls made directly: export, open, cuMemcpyDtoD, close (no goal)",
      "          (the device rows need a CUDA GPU and are skipped otherwise; on a",
      "          fake CUDA runtime they run as correctness checks, bytes verified,",
      "          no speed reported)",
      ""
    },
    footer = {"", "Progress goes to stderr. Exit 1 when a comparison that could run failed."},
    sortOptions = false)
final class BenchCommand implements Callable<Integer> {
  static final List<String> ALL =
      List.of(
          "codec",
          "flight",
          "flight-tls",
          "flight-small",
          "same-node",
          "ray",
          "ray-cross-node",
          "flight-cross-node",
          "d2h",
          "h2d",
          "gpu-to-gpu-flight",
          "gpu-to-gpu-ray",
          "gpu-to-gpu-ipc");

  private static final int FLIGHT_SHARDS = 64;
  static final int SMALL_SHARDS = 10_000;
  private static final int CROSS_NODE_SHARDS = 16;

  /** The sizes and repetitions of one run. */
  record Settings(
      String preset,
      long codecBytes,
      long flightBytes,
      long rayBytes,
      long crossNodeBytes,
      long d2hBytes,
      long gpuToGpuBytes,
      int warmup,
      long flightWarmupMs,
      int reps) {
    static Settings quick() {
      return new Settings(
          "quick",
          64L << 20,
          64L << 20,
          16L << 20,
          256L << 20,
          256L << 20,
          256L << 20,
          2,
          10_000,
          5);
    }

    static Settings full() {
      return new Settings(
          "full", 256L << 20, 1L << 30, 64L << 20, 1L << 30, 1L << 30, 1L << 30, 3, 25_000, 10);
    }

    Settings withSize(long bytes) {
      return new Settings(
          preset, bytes, bytes, bytes, bytes, bytes, bytes, warmup, flightWarmupMs, reps);
    }

    Settings withReps(int n) {
      return new Settings(
          preset,
          codecBytes,
          flightBytes,
          rayBytes,
          crossNodeBytes,
          d2hBytes,
          gpuToGpuBytes,
          warmup,
          flightWarmupMs,
          n);
    }

    /** Exactly {@code n} warm-up calls of everything: the flight warm-up's time floor goes. */
    Settings withWarmup(int n) {
      return new Settings(
          preset,
          codecBytes,
          flightBytes,
          rayBytes,
          crossNodeBytes,
          d2hBytes,
          gpuToGpuBytes,
          n,
          0,
          reps);
    }

    /** Bytes of one shard of the GPU-to-GPU rows (at least 1). */
    long gpuToGpuShardBytes() {
      return Math.max(1, gpuToGpuBytes / GpuToGpuWorkload.SHARDS);
    }

    /** Bytes of one shard of the cross-node rows (a multiple of 4, at least 4). */
    long crossNodeShardBytes() {
      return Math.max(4, crossNodeBytes / CROSS_NODE_SHARDS / 4 * 4);
    }

    Map<String, Object> asMap() {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("preset", preset);
      m.put("codecBytes", codecBytes);
      m.put("flightBytes", flightBytes);
      m.put("flightShards", FLIGHT_SHARDS);
      m.put("rayBytes", rayBytes);
      m.put("crossNodeBytes", crossNodeShardBytes() * CROSS_NODE_SHARDS);
      m.put("crossNodeShards", CROSS_NODE_SHARDS);
      m.put("d2hBytes", d2hBytes);
      m.put("h2dBytes", d2hBytes);
      m.put("gpuToGpuBytes", gpuToGpuShardBytes() * GpuToGpuWorkload.SHARDS);
      m.put("gpuToGpuShards", GpuToGpuWorkload.SHARDS);
      m.put("warmup", warmup);
      m.put("flightWarmupMs", flightWarmupMs);
      m.put("reps", reps);
      m.put("timing", "median of reps, subject and baseline interleaved, after warm-up");
      return m;
    }
  }

  /** A parsed command line. */
  record Options(Settings settings, Set<String> only, boolean json, String rayAddress, int nodes) {}

  @ParentCommand private Main main;
  @Mixin private HelpOption help;

  @ArgGroup(exclusive = true)
  private Preset preset;

  /** {@code --quick} or {@code --full}. */
  static final class Preset {
    @Option(
        names = "--quick",
        description = {
          "(default) codec 64 MiB, flight, flight-tls and same-node 64 x 1 MiB, flight-small 10,000 x 4"
              + " KiB, ray 16 MiB, cross-node 16 x 16 MiB, d2h and h2d 256 MiB, gpu-to-gpu 16 x 16"
              + " MiB, 2 warm-up + 5 reps (each flight row and gpu-to-gpu-flight warms up for 10 s"
              + " at least): about two minutes on 2 cores without the cross-node rows"
        })
    boolean quick;

    @Option(
        names = "--full",
        description =
            "codec 256 MiB, flight, flight-tls and same-node 64 x 16 MiB, flight-small 10,000 x 4 KiB, ray"
                + " 64 MiB, cross-node 16 x 64 MiB, d2h and h2d 1 GiB, gpu-to-gpu 16 x 64 MiB, 3 +"
                + " 10 (each flight row and gpu-to-gpu-flight warms up for 25 s at least)")
    boolean full;
  }

  @Option(
      names = "--size-mib",
      paramLabel = "N",
      converter = Converters.PositiveMebiCount.class,
      description =
          "bytes per operation of every comparison (flight: N MiB / 64 shards, cross-node and"
              + " gpu-to-gpu rows: N MiB / 16 shards)")
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

  @Option(
      names = "--nodes",
      paramLabel = "2",
      converter = TwoNodes.class,
      description = {
        "the cross-node rows are asked for: without a head address (RTENSOR_RAY_ADDRESS,"
            + " --ray-address) start the project's two-node head for this run (scripts/ray-head"
            + " start --port auto --nodes 2, nodes at 127.0.0.1 and 127.0.0.2) and stop it"
            + " afterwards; with one, it must have two nodes"
      })
  private Integer nodes;

  @Mixin private RayOptions ray;

  /** {@code --nodes}: 2 is the only count the cross-node rows use. */
  static final class TwoNodes implements ITypeConverter<Integer> {
    @Override
    public Integer convert(String value) {
      if (!value.strip().equals("2")) {
        throw new TypeConversionException(
            "--nodes takes 2 (the cross-node rows use two nodes), got '" + value + "'");
      }
      return 2;
    }
  }

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
        settings,
        only == null ? new LinkedHashSet<>(ALL) : only.names(),
        json,
        ray.address(),
        nodes == null ? 0 : nodes);
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
    try (RayHead head = new RayHead(options, err)) {
      for (String name : options.only()) {
        err.println("bench: " + name + " ...");
        Comparison c;
        try {
          c =
              switch (name) {
                case "codec" -> codec(s);
                case "flight" -> flight(s);
                case "flight-tls" -> flightTls(s);
                case "flight-small" -> flightSmall(s);
                case "same-node" -> sameNode(s);
                case "ray" -> ray(s, head);
                case "ray-cross-node" -> rayCrossNode(s, head);
                case "flight-cross-node" -> flightCrossNode(s, head);
                case "d2h" -> d2h(s);
                case "h2d" -> h2d(s);
                case "gpu-to-gpu-flight" -> gpuToGpuFlight(s);
                case "gpu-to-gpu-ray" -> gpuToGpuRay(s, head);
                case "gpu-to-gpu-ipc" -> gpuToGpuIpc(s);
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

  static Comparison sameNode(Settings s) throws Exception {
    long shardBytes = Math.max(4, s.flightBytes() / FLIGHT_SHARDS / 4 * 4);
    try (FlightWorkload w = new FlightWorkload(FLIGHT_SHARDS, shardBytes, 0, List.of())) {
      double[] t = Timing.compare(s.warmup(), s.reps(), w::sameNodeFetch, w::rawSocket);
      return Comparison.measured(
          "same-node",
          "same-node fetch through shared memory, "
              + FLIGHT_SHARDS
              + " x "
              + size(shardBytes)
              + " from a worker JVM",
          t[0],
          "raw Java socket copy, same JVMs",
          t[1],
          w.bytes(),
          FlightWorkload.SAME_NODE_GOAL);
    }
  }

  static Comparison flightSmall(Settings s) throws Exception {
    try (FlightWorkload w = new FlightWorkload(1, 4096, SMALL_SHARDS, List.of())) {
      double[] t =
          Timing.compare(
              s.warmup(), s.flightWarmupMs(), s.reps(), w::flightFetchSmall, w::rawSocketSmall);
      return Comparison.measured(
          "flight-small",
          "Flight fetch, " + w.smallShards() + " x 4 KiB in one localize, from a worker JVM",
          t[0],
          "the same as 4-byte-length-prefixed messages, one raw socket stream, same JVMs",
          t[1],
          w.smallBytes(),
          FlightWorkload.SMALL_GOAL);
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

  private Comparison ray(Settings s, RayHead head) throws Exception {
    String subject = RAY_SUBJECT + ", " + size(s.rayBytes()) + ", Java actors";
    String unavailable = head.use();
    if (unavailable != null) {
      return Comparison.skipped("ray", subject, RAY_BASELINE, RayPutGetWorkload.GOAL, unavailable);
    }
    try (RayPutGetWorkload w =
        new RayPutGetWorkload(1, s.rayBytes(), null, null, head.python(), ROOT, head.address())) {
      w.warmUpJava(RayPutGetWorkload.JIT_WARMUP_ROUNDS);
      double[] t = Timing.compare(s.warmup(), s.reps(), w::javaPutGet, w::pythonPutGet);
      return Comparison.measured(
          "ray",
          subject,
          t[0],
          RAY_BASELINE + ", Python actors",
          t[1],
          w.bytes(),
          RayPutGetWorkload.GOAL);
    }
  }

  /** Why the cross-node rows cannot run before any head is asked, or null. */
  static String crossNodeUnavailable(String address, boolean connectedHere, int nodes) {
    if (connectedHere || nodes == 2) {
      return null;
    }
    String why = rayUnavailable(address, false);
    return why == null
        ? null
        : "needs a Ray head of two nodes: run with --nodes 2 to start one for this run, or set"
            + " RTENSOR_RAY_ADDRESS or --ray-address to one (scripts/ray-head start --nodes 2); "
            + why;
  }

  /**
   * The two nodes of a cross-node row, {@code {serving, fetching}}: this process's node {@code
   * localIp} fetches from the first other IP among {@code aliveIps}; null when there is none.
   */
  static String[] nodePair(String localIp, List<String> aliveIps) {
    return aliveIps.stream()
        .filter(ip -> !ip.equals(localIp))
        .sorted()
        .findFirst()
        .map(ip -> new String[] {ip, localIp})
        .orElse(null);
  }

  /** Why a cluster whose alive nodes have {@code aliveIps} cannot run the cross-node rows. */
  static String oneNodeReason(String address, List<String> aliveIps) {
    return "the Ray head at "
        + address
        + " has "
        + aliveIps.size()
        + " alive node(s) "
        + aliveIps
        + ": the cross-node rows need two on distinct IPs (--nodes 2 without a head address"
        + " starts one; scripts/ray-head start --nodes 2)";
  }

  private static final String RAY_CROSS_BASELINE = "Python ray.put+ray.get, Python actors";

  private Comparison rayCrossNode(Settings s, RayHead head) throws Exception {
    long shard = s.crossNodeShardBytes();
    String what = CROSS_NODE_SHARDS + " x " + size(shard);
    String subject = RAY_SUBJECT + ", " + what + ", Java actors across nodes";
    double goal = RayPutGetWorkload.CROSS_NODE_GOAL;
    String[] pair = head.crossNodePair();
    String unavailable = head.crossNodeUnavailable();
    if (unavailable != null) {
      return Comparison.skipped(
          "ray-cross-node", subject, RAY_CROSS_BASELINE + " across nodes", goal, unavailable);
    }
    String route = pair[0] + " -> " + pair[1];
    try (RayPutGetWorkload w =
        new RayPutGetWorkload(
            CROSS_NODE_SHARDS, shard, pair[0], pair[1], head.python(), ROOT, head.address())) {
      main.err().println("bench: ray-cross-node actors on " + w.placement());
      w.warmUpJava(RayPutGetWorkload.JIT_WARMUP_ROUNDS);
      double[] t = Timing.compare(s.warmup(), s.reps(), w::javaPutGet, w::pythonPutGet);
      return Comparison.measured(
          "ray-cross-node",
          RAY_SUBJECT + ", " + what + ", Java actors " + route,
          t[0],
          RAY_CROSS_BASELINE + ", same nodes",
          t[1],
          w.bytes(),
          goal);
    }
  }

  private Comparison flightCrossNode(Settings s, RayHead head) throws Exception {
    long shard = s.crossNodeShardBytes();
    String what = CROSS_NODE_SHARDS + " x " + size(shard);
    String subject = "Flight fetch, " + what + ", from a worker JVM on the other node's IP";
    String baseline = "raw Java socket copy between the same IPs";
    double goal = FlightWorkload.CROSS_NODE_GOAL;
    String[] pair = head.crossNodePair();
    String unavailable = head.crossNodeUnavailable();
    if (unavailable == null) {
      unavailable = notLocal(pair[0]);
    }
    if (unavailable != null) {
      return Comparison.skipped("flight-cross-node", subject, baseline, goal, unavailable);
    }
    try (FlightWorkload w =
        new FlightWorkload(CROSS_NODE_SHARDS, shard, 0, List.of(), pair[0], pair[1])) {
      double[] t =
          Timing.compare(s.warmup(), s.flightWarmupMs(), s.reps(), w::flightFetch, w::rawSocket);
      return Comparison.measured(
          "flight-cross-node",
          "Flight fetch, " + what + ", worker JVM serving on " + pair[0] + " -> " + pair[1],
          t[0],
          "raw Java socket copy, " + pair[0] + " -> " + pair[1],
          t[1],
          w.bytes(),
          goal);
    }
  }

  /**
   * Null when this machine can bind {@code ip}, else why the Flight cross-node row cannot run: its
   * serving JVM runs here and binds the other node's IP (which a cluster of several nodes on one
   * machine, as scripts/ray-head starts, allows).
   */
  static String notLocal(String ip) {
    try (ServerSocket socket = new ServerSocket()) {
      socket.bind(new InetSocketAddress(ip, 0));
      return null;
    } catch (IOException | IllegalArgumentException e) {
      return "the other node's IP "
          + ip
          + " is not an address of this machine ("
          + e.getMessage()
          + "): the row's serving JVM runs here and binds it";
    }
  }

  private static final Path ROOT = Path.of(System.getProperty("rtensor.root", "."));

  /**
   * The Ray head of a run: the one this JVM is connected to, the one at {@link Options#rayAddress}
   * or, with {@code --nodes 2} and neither, the project's two-node head that this run starts
   * ({@code scripts/ray-head}) and stops when closed, failure or not. Connects on first {@link
   * #use}.
   */
  final class RayHead implements AutoCloseable {
    private final Options options;
    private final PrintStream err;
    final int nodes;
    private boolean tried;
    private String unavailable;
    private Exception failure;
    private String address;
    private String python;
    private RayConnection connection;
    private boolean started;
    private Thread stopOnExit;

    RayHead(Options options, PrintStream err) {
      this.options = options;
      this.err = err;
      this.nodes = options.nodes();
    }

    /**
     * Null when this JVM is connected to the head (connecting at the first call), else why not;
     * throws when starting or connecting failed.
     */
    String use() throws Exception {
      if (!tried) {
        tried = true;
        try {
          unavailable = prepare();
        } catch (Exception e) {
          failure = e;
        }
      }
      if (failure != null) {
        throw new IllegalStateException(
            "the Ray head could not be used: " + failure.getMessage(), failure);
      }
      return unavailable;
    }

    private String prepare() throws Exception {
      address = options.rayAddress();
      python = RayPutGetWorkload.python(ROOT);
      if (connectedHere.getAsBoolean()) {
        // Connected already: the head this JVM uses is the one to measure.
        address = System.getProperty("ray.address", address);
        return null;
      }
      if (address == null && nodes == 2) {
        start();
      }
      String why = rayUnavailable(address, false);
      if (why != null) {
        return why;
      }
      connection = ray.connect(address);
      return null;
    }

    /** {@code scripts/ray-head start --port auto --nodes 2}, its variables read back. */
    private void start() throws IOException, InterruptedException {
      Path script = ROOT.resolve(Path.of("scripts", "ray-head"));
      if (!Files.isExecutable(script)) {
        throw new IOException("no " + script + " (is rtensor.root right?)");
      }
      // Both object stores hold a round trip's objects of the Java side and the Python side.
      long storeMib = Math.max(1536, 2 * (options.settings().crossNodeBytes() >> 20) + 1024);
      err.println("bench: starting a two-node Ray head (scripts/ray-head start --nodes 2) ...");
      ProcessBuilder pb =
          new ProcessBuilder(
                  script.toString(),
                  "start",
                  "--port",
                  "auto",
                  "--nodes",
                  "2",
                  "--object-store-mb",
                  Long.toString(storeMib))
              .redirectErrorStream(true);
      Process p = pb.start();
      // The script bounds its own waits (a node that does not come up in 90 s fails the start).
      String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      int code = p.waitFor();
      if (code != 0) {
        throw new IOException(
            "scripts/ray-head start --nodes 2 exited with " + code + ": " + output.strip());
      }
      started = true;
      stopOnExit = new Thread(this::stop, "bench-ray-head-stop");
      Runtime.getRuntime().addShutdownHook(stopOnExit);
      Map<String, String> env = new LinkedHashMap<>();
      for (String line : Files.readAllLines(ROOT.resolve(Path.of(".rtensor", "ray", "env")))) {
        int eq = line.indexOf('=');
        if (eq > 0) {
          env.put(line.substring(0, eq), line.substring(eq + 1));
        }
      }
      address = env.get("RTENSOR_RAY_ADDRESS");
      python = env.getOrDefault("RTENSOR_PYTHON", python);
      err.println("bench: Ray head at " + address + ", nodes " + env.get("RTENSOR_RAY_NODE_IPS"));
    }

    String address() {
      return address;
    }

    String python() {
      return python;
    }

    /** The IPs of the nodes the GCS lists alive. */
    List<String> aliveIps() {
      return Ray.getRuntimeContext().getAllNodeInfo().stream()
          .filter(n -> n.isAlive)
          .map(n -> n.nodeAddress)
          .distinct()
          .sorted()
          .toList();
    }

    private String[] pair;
    private String pairUnavailable;
    private boolean pairTried;

    /**
     * The two nodes of the cross-node rows, {@code {serving, fetching}}: another node of the head,
     * and this driver's; null when they cannot run ({@link #crossNodeUnavailable} says why). Throws
     * when starting or connecting to the head failed.
     */
    String[] crossNodePair() throws Exception {
      if (!pairTried) {
        pairUnavailable =
            BenchCommand.crossNodeUnavailable(
                options.rayAddress(), connectedHere.getAsBoolean(), nodes);
        if (pairUnavailable == null) {
          pairUnavailable = use();
        }
        if (pairUnavailable == null) {
          pair = nodePair();
          if (pair == null) {
            pairUnavailable = oneNodeReason(address, aliveIps());
          }
        }
        pairTried = true; // not when use() threw: every row asking fails the same way
      }
      return pair;
    }

    /** Why the cross-node rows cannot run (after {@link #crossNodePair}), or null. */
    String crossNodeUnavailable() {
      return pairUnavailable;
    }

    /** {@code {serving, fetching}}: another node, and this driver's; null without another. */
    private String[] nodePair() {
      var here = Ray.getRuntimeContext().getCurrentNodeId();
      String local =
          Ray.getRuntimeContext().getAllNodeInfo().stream()
              .filter(n -> n.isAlive && n.nodeId.equals(here))
              .map(n -> n.nodeAddress)
              .findFirst()
              .orElseThrow(() -> new IllegalStateException("the GCS lists no node " + here));
      return BenchCommand.nodePair(local, aliveIps());
    }

    private synchronized void stop() {
      if (started) {
        started = false;
        try {
          Process p =
              new ProcessBuilder(ROOT.resolve(Path.of("scripts", "ray-head")).toString(), "stop")
                  .redirectErrorStream(true)
                  .start();
          // The script bounds its own waits (10 s for a node's processes to end, then SIGKILL).
          String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
          if (p.waitFor() != 0) {
            err.println("bench: scripts/ray-head stop failed: " + output.strip());
          } else {
            err.println("bench: " + output.strip());
          }
        } catch (IOException e) {
          err.println("bench: scripts/ray-head stop failed: " + e);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
    }

    @Override
    public void close() {
      try {
        if (connection != null) {
          connection.close();
        }
      } finally {
        stop();
        if (stopOnExit != null) {
          try {
            Runtime.getRuntime().removeShutdownHook(stopOnExit);
          } catch (IllegalStateException e) {
            // the JVM is exiting: the hook runs
          }
        }
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

  /** The first CUDA device, or null with {@code why[0]} saying why there is none. */
  private static Device cudaDevice(String[] why) {
    try {
      return D2hWorkload.cudaDevice();
    } catch (D2hWorkload.NoDeviceException e) {
      why[0] = "no CUDA GPU (" + e.getMessage() + ")";
      return null;
    }
  }

  /**
   * What a device row run on {@code device}'s fake runtime checked: it ran end to end and every
   * byte was right, which says nothing about speed.
   */
  static String fakeCheck(Device device) {
    return "checked on the fake CUDA runtime ("
        + Path.of(device.runtime().library()).getFileName()
        + "): subject and baseline ran end to end, every byte verified; not a speed measurement";
  }

  /** The goal of a single-copy row: it applies from 64 MiB (smaller copies are latency-bound). */
  private static double copyGoal(long bytes, double goal) {
    return bytes >= 64L << 20 ? goal : Double.NaN;
  }

  static Comparison d2h(Settings s) throws Exception {
    return copyRow(
        "d2h",
        "D2H into pinned Arrow memory (ChunkedCopier), ",
        D2hWorkload.BASELINE,
        D2hWorkload.GOAL,
        s,
        D2hWorkload::new);
  }

  static Comparison h2d(Settings s) throws Exception {
    return copyRow(
        "h2d",
        "H2D from pinned Arrow memory (ChunkedCopier), ",
        H2dWorkload.BASELINE,
        H2dWorkload.GOAL,
        s,
        H2dWorkload::new);
  }

  /**
   * A single-copy row: the workload {@code open} makes on the CUDA device, rtensor's copy beside
   * the raw one; a check, not a measurement, on a fake runtime.
   */
  private static Comparison copyRow(
      String name,
      String what,
      String baseline,
      double rowGoal,
      Settings s,
      java.util.function.BiFunction<Device, Long, CopyWorkload> open)
      throws Exception {
    String subject = what + size(s.d2hBytes());
    double goal = copyGoal(s.d2hBytes(), rowGoal);
    String[] why = new String[1];
    Device device = cudaDevice(why);
    if (device == null) {
      return Comparison.skipped(name, subject, baseline, goal, why[0]);
    }
    try (CopyWorkload w = open.apply(device, s.d2hBytes())) {
      double[] t =
          Timing.compare(
              Math.max(2, s.warmup()), s.reps(), w::pinnedArrowChunked, w::baselineRawPinned);
      w.verify();
      subject += " on " + device.name();
      return device.runtime().isFake()
          ? Comparison.checked(name, subject, baseline, w.bytes(), goal, fakeCheck(device))
          : Comparison.measured(name, subject, t[0], baseline, t[1], w.bytes(), goal);
    }
  }

  /**
   * The environment of the GPU-to-GPU rows' workers: the CUDA library this process loaded, and on a
   * fake runtime a fake machine with enough devices for whatever ids the scheduler hands out (Ray's
   * come from the GPUs its nodes declare).
   */
  static Map<String, String> gpuWorkerEnv(Device device, boolean ray) {
    Map<String, String> env = new LinkedHashMap<>();
    env.put(RuntimeKind.CUDA.libraryEnvironment(), device.runtime().library());
    if (device.runtime().isFake()) {
      String count = System.getenv(DemoCommand.FAKE_DEVICE_COUNT);
      if (ray) {
        env.put(DemoCommand.FAKE_DEVICE_COUNT, "16");
      } else if (count != null) {
        env.put(DemoCommand.FAKE_DEVICE_COUNT, count);
      }
    }
    return env;
  }

  private String gpuToGpuWhat(Settings s) {
    return GpuToGpuWorkload.SHARDS + " x " + size(s.gpuToGpuShardBytes()) + " device tensors";
  }

  private Comparison gpuToGpuFlight(Settings s) throws Exception {
    String what = gpuToGpuWhat(s);
    String subject = "GPU -> GPU through Flight, " + what + ", local workers";
    String baseline = GpuToGpuWorkload.SOCKET_BASELINE;
    String[] why = new String[1];
    Device device = cudaDevice(why);
    if (device == null) {
      return Comparison.skipped(
          "gpu-to-gpu-flight", subject, baseline, GpuToGpuWorkload.GOAL, why[0]);
    }
    LocalScheduler scheduler = LocalScheduler.builder().build();
    try (GpuToGpuWorkload w =
        new GpuToGpuWorkload(
            scheduler,
            GpuToGpuWorkload.Route.FLIGHT,
            GpuToGpuWorkload.SHARDS,
            s.gpuToGpuShardBytes(),
            gpuWorkerEnv(device, false))) {
      main.err().println("bench: gpu-to-gpu-flight " + w.placement());
      // Both workers compile Netty's and gRPC's paths for many fetches: warm up by time as well.
      double[] t =
          Timing.compare(s.warmup(), s.flightWarmupMs(), s.reps(), w::rtensorPath, w::rawChain);
      w.verify();
      return gpuToGpu("gpu-to-gpu-flight", subject, w, device, t, baseline, GpuToGpuWorkload.GOAL);
    }
  }

  /**
   * The CUDA IPC handoff between two local workers against the driver's IPC calls made directly; no
   * goal yet (the first measurement on a GPU sets one).
   */
  private Comparison gpuToGpuIpc(Settings s) throws Exception {
    String what = gpuToGpuWhat(s);
    String subject =
        "GPU -> GPU kept on the producer's GPU, by CUDA IPC, " + what + ", local workers";
    String baseline = GpuToGpuWorkload.IPC_BASELINE;
    String[] why = new String[1];
    Device device = cudaDevice(why);
    if (device == null) {
      return Comparison.skipped("gpu-to-gpu-ipc", subject, baseline, Double.NaN, why[0]);
    }
    LocalScheduler scheduler = LocalScheduler.builder().build();
    try (GpuToGpuWorkload w =
        new GpuToGpuWorkload(
            scheduler,
            GpuToGpuWorkload.Route.CUDA_IPC,
            GpuToGpuWorkload.SHARDS,
            s.gpuToGpuShardBytes(),
            gpuWorkerEnv(device, false))) {
      main.err().println("bench: gpu-to-gpu-ipc " + w.placement());
      double[] t = Timing.compare(s.warmup(), s.reps(), w::rtensorPath, w::rawChain);
      w.verify();
      return gpuToGpu("gpu-to-gpu-ipc", subject, w, device, t, baseline, Double.NaN);
    }
  }

  private Comparison gpuToGpuRay(Settings s, RayHead head) throws Exception {
    String what = gpuToGpuWhat(s);
    String subject = "GPU -> GPU through the Ray object store, " + what + ", Ray actors";
    String baseline = GpuToGpuWorkload.PLASMA_BASELINE;
    String[] why = new String[1];
    Device device = cudaDevice(why);
    String unavailable = device == null ? why[0] : head.use();
    if (unavailable != null) {
      return Comparison.skipped(
          "gpu-to-gpu-ray", subject, baseline, GpuToGpuWorkload.GOAL, unavailable);
    }
    RayScheduler scheduler =
        RayScheduler.builder().dataPlane(DataPlaneKind.RAY_OBJECT_STORE).build();
    try (GpuToGpuWorkload w =
        new GpuToGpuWorkload(
            scheduler,
            GpuToGpuWorkload.Route.OBJECT_STORE,
            GpuToGpuWorkload.SHARDS,
            s.gpuToGpuShardBytes(),
            gpuWorkerEnv(device, true))) {
      main.err().println("bench: gpu-to-gpu-ray " + w.placement());
      double[] t = Timing.compare(s.warmup(), s.reps(), w::rtensorPath, w::rawChain);
      w.verify();
      return gpuToGpu("gpu-to-gpu-ray", subject, w, device, t, baseline, GpuToGpuWorkload.GOAL);
    }
  }

  private static Comparison gpuToGpu(
      String name,
      String subject,
      GpuToGpuWorkload w,
      Device device,
      double[] t,
      String baseline,
      double goal) {
    subject += ", " + w.placement();
    return device.runtime().isFake()
        ? Comparison.checked(name, subject, baseline, w.bytes(), goal, fakeCheck(device))
        : Comparison.measured(name, subject, t[0], baseline, t[1], w.bytes(), goal);
  }
}
