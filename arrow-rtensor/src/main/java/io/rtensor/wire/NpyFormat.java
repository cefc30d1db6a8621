package io.rtensor.wire;

import io.rtensor.tensor.DType;
import io.rtensor.tensor.Shape;
import io.rtensor.tensor.Tensor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.arrow.memory.BufferAllocator;

/**
 * numpy's {@code .npy} files (format versions 1.0, 2.0 and 3.0): one C-ordered, little-endian array
 * of a {@link DType} numpy has. The header is validated before anything is allocated, and the data
 * moves between the file and Arrow memory with no intermediate copy.
 *
 * <p>bfloat16 is refused both ways: numpy has no such dtype, and an array of ml_dtypes' bfloat16 is
 * saved with the opaque descriptor {@code '<V2'}, which does not say what the bytes are.
 */
public final class NpyFormat {
  private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
  private static final int MAX_HEADER = 1 << 20;
  private static final int IO_CHUNK = 64 << 20;

  private static final Map<String, DType> DESCRIPTORS =
      Map.ofEntries(
          Map.entry("|b1", DType.BOOL),
          Map.entry("|u1", DType.UINT8),
          Map.entry("|i1", DType.INT8),
          Map.entry("<i2", DType.INT16),
          Map.entry("<i4", DType.INT32),
          Map.entry("<i8", DType.INT64),
          Map.entry("<f2", DType.FLOAT16),
          Map.entry("<f4", DType.FLOAT32),
          Map.entry("<f8", DType.FLOAT64));

  private static final Pattern DESCR = Pattern.compile("'descr'\\s*:\\s*'([^']*)'");
  private static final Pattern FORTRAN = Pattern.compile("'fortran_order'\\s*:\\s*(True|False)");
  private static final Pattern SHAPE = Pattern.compile("'shape'\\s*:\\s*\\(([^)]*)\\)");

  private NpyFormat() {}

  /** The numpy descriptor of a dtype, e.g. {@code <f4}. */
  public static String descriptor(DType dtype) {
    for (Map.Entry<String, DType> e : DESCRIPTORS.entrySet()) {
      if (e.getValue() == dtype) {
        return e.getKey();
      }
    }
    throw new IllegalArgumentException(
        dtype
            + " has no standard .npy dtype (numpy has no bfloat16; ml_dtypes saves it as the"
            + " opaque '<V2'): convert it to float32 first or keep it in an Arrow shard");
  }

  /**
   * Reads a {@code .npy} file into a tensor owned by {@code allocator}.
   *
   * @throws WireFormatException for anything but a valid C-ordered little-endian array of a
   *     supported dtype whose data length matches its header
   */
  public static Tensor read(Path file, BufferAllocator allocator) throws IOException {
    try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
      long size = channel.size();
      if (size < 10) {
        throw new WireFormatException("truncated: " + size + " bytes is shorter than a header", 0);
      }
      ByteBuffer prefix =
          ByteBuffer.allocate((int) Math.min(12, size)).order(ByteOrder.LITTLE_ENDIAN);
      readFully(channel, prefix, 0);
      prefix.flip();
      for (int i = 0; i < MAGIC.length; i++) {
        if (prefix.get(i) != MAGIC[i]) {
          throw new WireFormatException("not a .npy file (bad magic)", i);
        }
      }
      int major = prefix.get(6) & 0xff;
      long headerLength;
      int headerStart;
      if (major == 1) {
        headerLength = prefix.getShort(8) & 0xffff;
        headerStart = 10;
      } else if (major == 2 || major == 3) {
        if (prefix.remaining() < 12) {
          throw new WireFormatException("truncated header length", 8);
        }
        headerLength = prefix.getInt(8) & 0xffffffffL;
        headerStart = 12;
      } else {
        throw new WireFormatException("unsupported .npy format version " + major, 6);
      }
      if (headerLength > MAX_HEADER || headerStart + headerLength > size) {
        throw new WireFormatException(
            "header of " + headerLength + " bytes runs past the file (" + size + " bytes)", 8);
      }
      ByteBuffer headerBytes = ByteBuffer.allocate((int) headerLength);
      readFully(channel, headerBytes, headerStart);
      String header =
          new String(
              headerBytes.array(),
              major == 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1);
      DType dtype = parseDescriptor(header, headerStart);
      Shape shape = parseShape(header, headerStart);
      long dataStart = headerStart + headerLength;
      long expected = shape.byteSize(dtype);
      if (size - dataStart != expected) {
        throw new WireFormatException(
            "data is "
                + (size - dataStart)
                + " bytes but "
                + dtype.numpyName()
                + shape
                + " needs "
                + expected,
            dataStart);
      }
      Tensor tensor = Tensor.allocateUninitialized(allocator, dtype, shape);
      try {
        long done = 0;
        while (done < expected) {
          int chunk = (int) Math.min(IO_CHUNK, expected - done);
          ByteBuffer target = tensor.buffer().nioBuffer(done, chunk);
          readFully(channel, target, dataStart + done);
          done += chunk;
        }
        return tensor;
      } catch (IOException | RuntimeException e) {
        tensor.close();
        throw e;
      }
    }
  }

  /** Writes a tensor as a {@code .npy} file (format 1.0, or 2.0 for a very long header). */
  public static void write(Tensor tensor, Path file) throws IOException {
    String descr = descriptor(tensor.dtype());
    StringBuilder dims = new StringBuilder();
    long[] shape = tensor.shape().dims();
    for (long d : shape) {
      dims.append(d).append(", ");
    }
    if (shape.length > 1) {
      dims.setLength(dims.length() - 2);
    } else if (shape.length == 1) {
      dims.setLength(dims.length() - 1);
    }
    String dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (" + dims + "), }";
    int prefix = dict.length() + 1 + 10 <= 65535 ? 10 : 12;
    int padded = ((prefix + dict.length() + 1 + 63) / 64) * 64;
    String header = dict + " ".repeat(padded - prefix - dict.length() - 1) + "\n";
    ByteBuffer head = ByteBuffer.allocate(padded).order(ByteOrder.LITTLE_ENDIAN);
    head.put(MAGIC).put((byte) (prefix == 10 ? 1 : 2)).put((byte) 0);
    if (prefix == 10) {
      head.putShort((short) header.length());
    } else {
      head.putInt(header.length());
    }
    head.put(header.getBytes(StandardCharsets.ISO_8859_1)).flip();
    try (FileChannel out =
        FileChannel.open(
            file,
            StandardOpenOption.CREATE,
            StandardOpenOption.TRUNCATE_EXISTING,
            StandardOpenOption.WRITE)) {
      while (head.hasRemaining()) {
        out.write(head);
      }
      long total = tensor.byteSize();
      long done = 0;
      while (done < total) {
        int chunk = (int) Math.min(IO_CHUNK, total - done);
        ByteBuffer source = tensor.buffer().nioBuffer(done, chunk);
        while (source.hasRemaining()) {
          out.write(source);
        }
        done += chunk;
      }
    }
  }

  private static DType parseDescriptor(String header, long at) throws WireFormatException {
    Matcher descr = DESCR.matcher(header);
    if (!descr.find()) {
      throw new WireFormatException("header has no 'descr': " + header.strip(), at);
    }
    String d = descr.group(1);
    Matcher fortran = FORTRAN.matcher(header);
    if (!fortran.find()) {
      throw new WireFormatException("header has no 'fortran_order': " + header.strip(), at);
    }
    if (fortran.group(1).equals("True")) {
      throw new WireFormatException(
          "Fortran-ordered arrays are not supported: save with np.ascontiguousarray first", at);
    }
    DType dtype = DESCRIPTORS.get(normalize(d));
    if (dtype == null) {
      String hint =
          d.equals("<V2") || d.equals("|V2")
              ? " (an opaque 2-byte type: ml_dtypes' bfloat16 is saved this way and cannot be"
                  + " told apart; convert it to float32 in numpy first)"
              : d.startsWith(">")
                  ? " (big-endian: save with arr.astype(arr.dtype.newbyteorder('<')) first)"
                  : " (supported: bool, uint8, int8, int16, int32, int64, float16, float32,"
                      + " float64)";
      throw new WireFormatException("unsupported dtype '" + d + "'" + hint, at);
    }
    return dtype;
  }

  /** numpy writes one-byte types with '|' and may write native order as '='. */
  private static String normalize(String d) {
    if (d.length() != 3 || "<|=".indexOf(d.charAt(0)) < 0) {
      return d;
    }
    return (d.charAt(2) == '1' ? "|" : "<") + d.substring(1);
  }

  private static Shape parseShape(String header, long at) throws WireFormatException {
    Matcher shape = SHAPE.matcher(header);
    if (!shape.find()) {
      throw new WireFormatException("header has no 'shape': " + header.strip(), at);
    }
    List<Long> dims = new ArrayList<>();
    for (String part : shape.group(1).split(",")) {
      String p = part.strip();
      if (p.endsWith("L")) {
        p = p.substring(0, p.length() - 1);
      }
      if (!p.isEmpty()) {
        try {
          dims.add(Long.parseLong(p));
        } catch (NumberFormatException e) {
          throw new WireFormatException("bad dimension '" + p + "' in shape", at);
        }
      }
    }
    try {
      return Shape.of(dims.stream().mapToLong(Long::longValue).toArray());
    } catch (IllegalArgumentException e) {
      throw new WireFormatException("invalid shape: " + e.getMessage(), at);
    }
  }

  private static void readFully(FileChannel channel, ByteBuffer into, long position)
      throws IOException {
    long at = position;
    while (into.hasRemaining()) {
      int n = channel.read(into, at);
      if (n < 0) {
        throw new WireFormatException("truncated at byte " + at, at);
      }
      at += n;
    }
  }
}
