package io.rtensor.testing;

import io.rtensor.auth.SessionTls;
import io.rtensor.runtime.SessionSecret;
import io.rtensor.transport.FlightShardServerMain;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A {@link FlightShardServerMain} in a child JVM: started with the project's JVM flags and this
 * JVM's class path, the session secret in its environment; it exits when {@link #close()} closes
 * its stdin (and is killed if it does not).
 */
public final class FlightWorkerProcess implements AutoCloseable {
  private final Process process;
  private final String address;
  private final Path log;

  private FlightWorkerProcess(Process process, String address, Path log) {
    this.process = process;
    this.address = address;
    this.log = log;
  }

  /** Starts a worker with {@code secret} and extra {@code args} for the main. */
  public static FlightWorkerProcess start(String secret, String... args) throws IOException {
    return start(secret, null, args);
  }

  /** As {@link #start(String, String...)}, serving over TLS with {@code tls} (null: plaintext). */
  public static FlightWorkerProcess start(String secret, SessionTls tls, String... args)
      throws IOException {
    String root = System.getProperty("rtensor.root", ".");
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.add("@" + Path.of(root, "etc", "jvm.args"));
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add(FlightShardServerMain.class.getName());
    cmd.addAll(List.of(args));
    Path log = Files.createTempFile("rtensor-flight-worker", ".log");
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectError(log.toFile());
    pb.environment().put(SessionSecret.ENV, secret);
    if (tls != null) {
      pb.environment().put(SessionTls.ENV, tls.encode());
    }
    Process p = pb.start();
    BufferedReader out =
        new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
    String line;
    while ((line = out.readLine()) != null) {
      if (line.startsWith(FlightShardServerMain.ADDRESS_LINE)) {
        return new FlightWorkerProcess(
            p, line.substring(FlightShardServerMain.ADDRESS_LINE.length()), log);
      }
    }
    p.destroyForcibly();
    throw new IOException("Flight worker exited before announcing its address: " + tail(log));
  }

  /** {@code host:port} of its server. */
  public String address() {
    return address;
  }

  /** The process. */
  public Process process() {
    return process;
  }

  private static String tail(Path log) {
    try {
      String s = Files.readString(log);
      return s.substring(Math.max(0, s.length() - 4000));
    } catch (IOException e) {
      return "(no log: " + e + ")";
    }
  }

  @Override
  public void close() throws IOException {
    try {
      process.getOutputStream().close();
      if (!process.waitFor(10, TimeUnit.SECONDS)) {
        process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      process.destroyForcibly();
    } finally {
      Files.deleteIfExists(log);
    }
  }
}
