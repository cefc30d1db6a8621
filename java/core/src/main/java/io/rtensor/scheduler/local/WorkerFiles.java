package io.rtensor.scheduler.local;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.slf4j.LoggerFactory;

/** The files and process facts of local workers: ready files, log tails, the log folder. */
final class WorkerFiles {
  /** Lines of a worker's log quoted in errors. */
  static final int LOG_TAIL_LINES = 50;

  private WorkerFiles() {}

  static int readPort(Path readyFile, String key) {
    String text;
    try {
      text = Files.readString(readyFile, StandardCharsets.UTF_8).strip();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    for (String part : text.split(" ")) {
      if (part.startsWith(key)) {
        return Integer.parseInt(part.substring(key.length()));
      }
    }
    throw new IllegalStateException("no " + key + " port in " + readyFile + ": " + text);
  }

  static boolean exited(Process process) {
    try {
      // A process killed a moment ago may not be reaped yet.
      return process.waitFor(300, TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return !process.isAlive();
    }
  }

  static void removeTree(Path dir) {
    try (Stream<Path> paths = Files.walk(dir)) {
      for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    } catch (IOException | UncheckedIOException e) {
      LoggerFactory.getLogger(LocalScheduler.class)
          .warn("cannot remove the worker log directory {}: {}", dir, e.toString());
    }
  }

  /** The last {@link #LOG_TAIL_LINES} lines of a worker log, for error messages. */
  static String logTail(Path log) {
    try {
      List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
      List<String> tail = lines.subList(Math.max(0, lines.size() - LOG_TAIL_LINES), lines.size());
      return "last " + tail.size() + " lines of " + log + ":\n" + String.join("\n", tail);
    } catch (IOException e) {
      return "(log " + log + " unreadable: " + e.getMessage() + ")";
    }
  }
}
