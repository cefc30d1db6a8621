package io.rtensor.cli;

import io.rtensor.tensor.Tensor;
import io.rtensor.tensor.TensorBatch;
import io.rtensor.wire.NpyFormat;
import io.rtensor.wire.ShardCodec;
import io.rtensor.wire.WireFormatException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;

/**
 * {@code ./rtensor convert IN OUT}: a numpy {@code .npy} file to a one-column Arrow IPC shard, or a
 * shard's column back to {@code .npy}. The direction follows IN's content (the .npy magic).
 */
final class ConvertCommand implements Main.Command {
  private static final byte[] NPY_MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};

  @Override
  public String summary() {
    return "convert between a numpy .npy file and an Arrow IPC shard (either way)";
  }

  @Override
  public int run(String[] args, PrintStream out, PrintStream err) throws Exception {
    String column = null;
    String in = null;
    String outPath = null;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "-h", "--help" -> {
          out.println("usage: ./rtensor convert [--column NAME] IN OUT");
          out.println("  IN .npy  -> OUT: a shard with one column (NAME, default 'tensor')");
          out.println("  IN shard -> OUT .npy: the shard's only column, or --column NAME");
          out.println("  dtypes: bool, uint8, int8, int16, int32, int64, float16, float32,");
          out.println("  float64; bfloat16 has no .npy dtype and is refused with a message.");
          return 0;
        }
        case "--column" -> {
          if (++i >= args.length) {
            throw new Main.UsageException("--column needs a NAME");
          }
          column = args[i];
        }
        default -> {
          if (args[i].startsWith("-")) {
            throw new Main.UsageException("unknown option " + args[i]);
          } else if (in == null) {
            in = args[i];
          } else if (outPath == null) {
            outPath = args[i];
          } else {
            throw new Main.UsageException("expected IN OUT, got an extra '" + args[i] + "'");
          }
        }
      }
    }
    if (in == null || outPath == null) {
      throw new Main.UsageException("expected IN OUT");
    }
    Path source = Path.of(in);
    Path target = Path.of(outPath);
    try (BufferAllocator allocator = new RootAllocator()) {
      if (isNpy(source)) {
        String name = column == null ? "tensor" : column;
        try (Tensor tensor = NpyFormat.read(source, allocator);
            TensorBatch batch = TensorBatch.of(name, tensor.share());
            OutputStream stream = Files.newOutputStream(target)) {
          long bytes = ShardCodec.encode(batch, stream);
          out.printf(
              "%s -> %s: shard column '%s' %s%s, %d bytes%n",
              in, outPath, name, tensor.dtype().numpyName(), tensor.shape(), bytes);
        }
      } else {
        byte[] bytes = Files.readAllBytes(source);
        try (TensorBatch batch = ShardCodec.decode(bytes, allocator)) {
          String name = column;
          if (name == null) {
            if (batch.size() != 1) {
              err.println(
                  "rtensor convert: "
                      + in
                      + " has "
                      + batch.size()
                      + " columns "
                      + batch.names()
                      + "; choose one with --column NAME");
              return 2;
            }
            name = batch.names().iterator().next();
          } else if (!batch.names().contains(name)) {
            err.println(
                "rtensor convert: "
                    + in
                    + " has no column '"
                    + name
                    + "'; columns: "
                    + batch.names());
            return 2;
          }
          Tensor tensor = batch.tensor(name);
          NpyFormat.write(tensor, target);
          out.printf(
              "%s -> %s: .npy %s%s from column '%s'%n",
              in, outPath, tensor.dtype().numpyName(), tensor.shape(), name);
        }
      }
      return 0;
    } catch (NoSuchFileException e) {
      err.println("rtensor convert: " + e.getFile() + ": no such file");
      return 2;
    } catch (WireFormatException | IllegalArgumentException e) {
      err.println("rtensor convert: " + in + ": " + e.getMessage());
      Files.deleteIfExists(target);
      return 2;
    }
  }

  private static boolean isNpy(Path file) throws IOException {
    try (InputStream in = Files.newInputStream(file)) {
      byte[] head = in.readNBytes(NPY_MAGIC.length);
      return java.util.Arrays.equals(head, NPY_MAGIC);
    }
  }
}
