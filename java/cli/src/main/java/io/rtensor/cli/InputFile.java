package io.rtensor.cli;

import io.rtensor.tensor.TensorBatch;
import io.rtensor.wire.DecodeLimits;
import io.rtensor.wire.ShardCodec;
import io.rtensor.wire.WireFormatException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.channels.ReadableByteChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.apache.arrow.memory.BufferAllocator;

/**
 * A file a command reads, checked before use: a missing file, a directory, an unreadable file, a
 * read that fails or bytes that are not what they should be each become one {@link
 * BadInputException} naming the file and the problem.
 */
final class InputFile {
  private InputFile() {}

  /** A decoded shard and the number of bytes its input had. */
  record Shard(TensorBatch batch, long bytes) implements AutoCloseable {
    @Override
    public void close() {
      batch.close();
    }
  }

  /** How a command shows a path: escaped, so a file name cannot forge a line. */
  static String shown(Path file) {
    return Escaped.text(file.toString());
  }

  /** Refuses a missing file, a directory and a file this process may not read. */
  static void checkReadable(Path file) throws BadInputException {
    if (!Files.exists(file)) {
      throw new BadInputException(shown(file) + ": no such file");
    }
    if (Files.isDirectory(file)) {
      throw new BadInputException(shown(file) + ": is a directory, not a file");
    }
    if (!Files.isReadable(file)) {
      throw new BadInputException(shown(file) + ": permission denied");
    }
  }

  /** A read of {@code file} that failed, as one line. */
  static BadInputException unreadable(Path file, IOException e) {
    if (e instanceof NoSuchFileException) {
      return new BadInputException(shown(file) + ": no such file");
    }
    if (e instanceof AccessDeniedException) {
      return new BadInputException(shown(file) + ": permission denied");
    }
    String reason =
        e instanceof FileSystemException fs && fs.getReason() != null
            ? fs.getReason()
            : String.valueOf(e.getMessage());
    return new BadInputException(shown(file) + ": cannot read (" + Escaped.text(reason) + ")");
  }

  /** Bytes of {@code file} that are not what they should be, as one line. */
  static BadInputException invalid(Path file, RuntimeException e) {
    return new BadInputException(shown(file) + ": " + Escaped.text(String.valueOf(e.getMessage())));
  }

  /**
   * Decodes the shard in {@code file}, reading it through a channel (a shard may be larger than a
   * Java array); no body is allocated beyond the file's size.
   */
  static Shard readShard(Path file, BufferAllocator allocator) throws BadInputException {
    checkReadable(file);
    try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
      long size = channel.size();
      DecodeLimits limits = DecodeLimits.DEFAULT;
      if (size > 0 && Files.isRegularFile(file)) {
        limits =
            new DecodeLimits(
                limits.maxMetadataBytes(),
                Math.min(limits.maxBodyBytes(), size),
                limits.maxColumns());
      }
      TensorBatch batch = ShardCodec.decode(channel, allocator, limits);
      return new Shard(batch, Math.max(size, channel.position()));
    } catch (WireFormatException e) {
      throw invalid(file, e);
    } catch (IOException e) {
      throw unreadable(file, e);
    }
  }

  /** Decodes the shard on {@code in} (standard input); the byte count includes what follows it. */
  static Shard readShard(InputStream in, BufferAllocator allocator) throws BadInputException {
    Path shown = Path.of("-");
    CountingChannel channel = new CountingChannel(Channels.newChannel(in));
    try {
      TensorBatch batch = ShardCodec.decode(channel, allocator);
      try {
        ByteBuffer rest = ByteBuffer.allocate(64 << 10);
        while (channel.read(rest) >= 0) {
          rest.clear();
        }
      } catch (IOException | RuntimeException e) {
        batch.close();
        throw e;
      }
      return new Shard(batch, channel.count);
    } catch (WireFormatException e) {
      throw invalid(shown, e);
    } catch (IOException e) {
      throw unreadable(shown, e);
    }
  }

  /** A channel that counts the bytes read through it. */
  private static final class CountingChannel implements ReadableByteChannel {
    private final ReadableByteChannel channel;
    private long count;

    CountingChannel(ReadableByteChannel channel) {
      this.channel = channel;
    }

    @Override
    public int read(ByteBuffer target) throws IOException {
      int n = channel.read(target);
      if (n > 0) {
        count += n;
      }
      return n;
    }

    @Override
    public boolean isOpen() {
      return channel.isOpen();
    }

    @Override
    public void close() throws IOException {
      channel.close();
    }
  }
}
