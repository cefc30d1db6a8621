package io.rtensor.transport.internal;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Deadlines for blocking I/O on a socket channel: the channel is closed (which ends a blocked read
 * or write with an exception) when no byte has moved for the stall time, or when the overall
 * deadline passes; {@link #expired()} then says which. Every read and write through it counts as
 * progress.
 */
final class ChannelWatch implements AutoCloseable {
  private static final ScheduledExecutorService TIMER =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "rtensor-channel-watch");
            t.setDaemon(true);
            return t;
          });

  /** Which deadline closed the channel. */
  enum Expiry {
    NONE,
    STALL,
    DEADLINE
  }

  private final SocketChannel channel;
  private volatile long stallNanos;
  private volatile long deadlineNanos;
  private volatile long progressNanos = System.nanoTime();
  private volatile Expiry expired = Expiry.NONE;
  private final ScheduledFuture<?> check;

  private ChannelWatch(SocketChannel channel, long stallNanos, long deadlineNanos) {
    this.channel = channel;
    this.stallNanos = stallNanos;
    this.deadlineNanos = deadlineNanos;
    long period = Math.max(5_000_000L, Math.min(200_000_000L, stallNanos / 8));
    this.check = TIMER.scheduleAtFixedRate(this::check, period, period, TimeUnit.NANOSECONDS);
  }

  /** Watches {@code channel}: stall after {@code stallMillis}, overall {@code overallMillis}. */
  static ChannelWatch start(SocketChannel channel, long stallMillis, long overallMillis) {
    long now = System.nanoTime();
    return new ChannelWatch(
        channel,
        TimeUnit.MILLISECONDS.toNanos(stallMillis),
        now + TimeUnit.MILLISECONDS.toNanos(overallMillis));
  }

  /**
   * Watches {@code channel} with a stall time and an overall deadline on the {@link
   * System#nanoTime()} clock.
   */
  static ChannelWatch startNanos(SocketChannel channel, long stallNanos, long deadlineNanos) {
    return new ChannelWatch(channel, stallNanos, deadlineNanos);
  }

  /** New deadlines from now: stall after {@code stallMillis}; no overall one where it is 0. */
  void reset(long stallMillis, long overallMillis) {
    long now = System.nanoTime();
    stallNanos = TimeUnit.MILLISECONDS.toNanos(stallMillis);
    deadlineNanos = overallMillis <= 0 ? Long.MAX_VALUE : now + overallMillis * 1_000_000;
    progressNanos = now;
  }

  private void check() {
    long now = System.nanoTime();
    Expiry e =
        deadlineNanos != Long.MAX_VALUE && now - deadlineNanos >= 0
            ? Expiry.DEADLINE
            : now - progressNanos >= stallNanos ? Expiry.STALL : Expiry.NONE;
    if (e != Expiry.NONE && expired == Expiry.NONE) {
      expired = e;
      try {
        channel.close();
      } catch (IOException ignored) {
        // closed either way
      }
      check.cancel(false);
    }
  }

  /** Which deadline closed the channel, if one did. */
  Expiry expired() {
    return expired;
  }

  /** Reads until {@code buf} is full. */
  void readFully(SocketChannel ch, ByteBuffer buf) throws IOException {
    while (buf.hasRemaining()) {
      if (ch.read(buf) < 0) {
        throw new EOFException(buf.remaining() + " bytes short: the peer closed the connection");
      }
      progressNanos = System.nanoTime();
    }
  }

  /** Writes all of {@code buf}. */
  void writeFully(SocketChannel ch, ByteBuffer buf) throws IOException {
    while (buf.hasRemaining()) {
      ch.write(buf);
      progressNanos = System.nanoTime();
    }
  }

  @Override
  public void close() {
    check.cancel(false);
  }
}
