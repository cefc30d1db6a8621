package io.rtensor.scheduler.local;

import io.rtensor.auth.SessionTls;
import io.rtensor.device.Device;
import io.rtensor.host.EngineHost;
import io.rtensor.host.EngineHostControl;
import io.rtensor.host.WorkerDevices;
import io.rtensor.runtime.DeviceIds;
import io.rtensor.runtime.HostPort;
import io.rtensor.runtime.SessionSecret;
import io.rtensor.scheduler.local.internal.ControlServer;
import io.rtensor.transport.DataPlaneDeadlines;
import io.rtensor.transport.WorkerDataPlane;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import org.apache.arrow.memory.BufferAllocator;

/**
 * The worker process the {@link LocalScheduler} launches (also {@code ./rtensor worker}): hosts
 * engines behind a control endpoint (Arrow Flight actions, see {@code ControlProtocol}) and serves
 * their shards from a Flight data server ({@code FlightShardServer}), both guarded by the session
 * secret.
 *
 * <pre>
 * ./rtensor worker --id ROLE/INDEX [--port P] [--port-attempts N] [--ready-file PATH]
 *                  [--no-stdin-watch]
 * </pre>
 *
 * <p>The session secret comes from {@code RTENSOR_SESSION_SECRET}. Once serving, the worker writes
 * {@code control=PORT data=PORT pid=PID} to the ready file. It exits when its standard input closes
 * (its scheduler is gone) unless {@code --no-stdin-watch}, or on the {@code exit} action.
 */
public final class LocalWorkerMain {
  /** How long engines may take to destroy when the worker ends, before it halts anyway. */
  static final long DEFAULT_DESTROY_GRACE_MILLIS = 10_000;

  /** Exit code for a bad command line. */
  public static final int USAGE = 2;

  private LocalWorkerMain() {}

  public static void main(String[] args) {
    int code = run(args, System.out, System.err);
    if (code != 0) {
      System.exit(code);
    }
  }

  /** Starts a worker; returns a non-zero code only when it could not start (else it runs on). */
  public static int run(String[] args, PrintStream out, PrintStream err) {
    String id = null;
    int port = 0;
    int attempts = 20;
    Path readyFile = null;
    boolean watchStdin = true;
    long storeCapMib = 4096;
    long cacheCapMib = 1024;
    List<Integer> devices = List.of();
    long destroyGraceMillis = DEFAULT_DESTROY_GRACE_MILLIS;
    try {
      for (int i = 0; i < args.length; i++) {
        switch (args[i]) {
          case "-h", "--help" -> {
            out.println(
                "usage: ./rtensor worker --id ROLE/INDEX [--port P] [--port-attempts N]"
                    + " [--ready-file PATH] [--no-stdin-watch] [--store-cap-mib N]"
                    + " [--cache-cap-mib N] [--devices ID,ID...] [--destroy-grace-ms N]");
            out.println("  the session secret is read from " + SessionSecret.ENV);
            out.println(
                "  the session's Flight TLS key and certificate, if any, from " + SessionTls.ENV);
            return 0;
          }
          case "--id" -> id = value(args, ++i, "--id");
          case "--port" -> port = Integer.parseInt(value(args, ++i, "--port"));
          case "--port-attempts" ->
              attempts = Integer.parseInt(value(args, ++i, "--port-attempts"));
          case "--ready-file" -> readyFile = Path.of(value(args, ++i, "--ready-file"));
          case "--no-stdin-watch" -> watchStdin = false;
          case "--store-cap-mib" ->
              storeCapMib = Long.parseLong(value(args, ++i, "--store-cap-mib"));
          case "--devices" -> devices = DeviceIds.parse(value(args, ++i, "--devices"));
          case "--destroy-grace-ms" ->
              destroyGraceMillis = Long.parseLong(value(args, ++i, "--destroy-grace-ms"));
          case "--cache-cap-mib" ->
              cacheCapMib = Long.parseLong(value(args, ++i, "--cache-cap-mib"));
          default -> throw new IllegalArgumentException("unknown option " + args[i]);
        }
      }
      if (id == null || !id.contains("/")) {
        throw new IllegalArgumentException("--id ROLE/INDEX is required");
      }
      if (port < 0 || port > 65535 || attempts < 1) {
        throw new IllegalArgumentException("--port must be in [0, 65535], --port-attempts >= 1");
      }
    } catch (IllegalArgumentException e) {
      err.println("rtensor worker: " + e.getMessage());
      return USAGE;
    }

    SessionSecret secret;
    SessionTls tls;
    try {
      secret = SessionSecret.fromEnvironment();
      tls = SessionTls.fromEnvironment(); // null: the session's Flight is plaintext
    } catch (IllegalStateException | IllegalArgumentException e) {
      err.println("rtensor worker: " + e.getMessage());
      return USAGE;
    }

    Device device = WorkerDevices.open(id, devices);
    BufferAllocator allocator =
        WorkerDevices.rootAllocator(device, (storeCapMib + cacheCapMib) * (1L << 20));
    WorkerDataPlane data;
    try {
      data =
          WorkerDataPlane.flight(
              allocator,
              secret.value(),
              tls,
              "127.0.0.1",
              storeCapMib << 20,
              cacheCapMib << 20,
              DataPlaneDeadlines.fromEnvironment());
    } catch (IOException | RuntimeException e) {
      err.println("rtensor worker " + id + ": cannot start the Flight data server: " + e);
      allocator.close();
      return 1;
    }
    EngineHost host =
        new EngineHost(
            id, data.transport(), LocalWorkerMain.class.getClassLoader(), devices, device);
    CountDownLatch done = new CountDownLatch(1);
    EngineHostControl control =
        new EngineHostControl(host, data, allocator, "127.0.0.1", done::countDown);
    ControlServer server = null;
    IOException lastBindError = null;
    for (int attempt = 0; attempt < attempts && server == null; attempt++) {
      int candidate = port == 0 ? 0 : port + attempt;
      try {
        server = new ControlServer(allocator, control, secret, "127.0.0.1", candidate);
      } catch (IOException e) {
        lastBindError = e;
        err.println("rtensor worker " + id + ": port " + candidate + " taken, trying the next");
        if (port == 0) {
          break;
        }
      }
    }
    if (server == null) {
      err.println("rtensor worker " + id + ": cannot bind a control port: " + lastBindError);
      data.close();
      allocator.close();
      return 1;
    }

    String dataPort = Integer.toString(HostPort.parse(data.dataAddress()).port());
    String ready =
        "control=" + server.port() + " data=" + dataPort + " pid=" + ProcessHandle.current().pid();
    try {
      if (readyFile != null) {
        Path tmp = readyFile.resolveSibling(readyFile.getFileName() + ".tmp");
        Files.writeString(tmp, ready + "\n", StandardCharsets.UTF_8);
        Files.move(tmp, readyFile, StandardCopyOption.ATOMIC_MOVE);
      }
    } catch (IOException e) {
      err.println("rtensor worker " + id + ": cannot write the ready file: " + e);
      return 1;
    }
    out.println("rtensor worker " + id + " ready: " + ready);
    out.flush();

    if (watchStdin) {
      Thread watcher =
          new Thread(
              () -> {
                try (InputStream in = System.in) {
                  while (in.read() >= 0) {
                    // Drain until the scheduler closes our input.
                  }
                } catch (IOException ignored) {
                  // A broken pipe means the same: the scheduler is gone.
                }
                done.countDown();
              },
              "stdin-watch");
      watcher.setDaemon(true);
      watcher.start();
    }
    try {
      // No deadline on purpose: a worker serves until its scheduler says exit or goes away.
      done.await();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    // Engines get a bounded grace to destroy themselves; a destroy that blocks does not keep the
    // process alive after its controller is gone.
    Thread destroyer = new Thread(host::destroyAll, "destroy-engines");
    destroyer.setDaemon(true);
    destroyer.start();
    try {
      destroyer.join(destroyGraceMillis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    out.println(
        "rtensor worker "
            + id
            + (destroyer.isAlive()
                ? " exiting: engines still destroying after " + destroyGraceMillis + " ms"
                : " exiting"));
    out.flush();
    try {
      // Lets the reply to an exit action leave before the process ends.
      Thread.sleep(100);
      if (!destroyer.isAlive()) {
        server.close();
        data.close();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    Runtime.getRuntime().halt(0);
    return 0;
  }

  private static String value(String[] args, int i, String option) {
    if (i >= args.length) {
      throw new IllegalArgumentException(option + " needs a value");
    }
    return args[i];
  }
}
