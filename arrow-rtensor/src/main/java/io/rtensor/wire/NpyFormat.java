package io.rtensor.wire;

import io.rtensor.tensor.DType;
import io.rtensor.tensor.Shape;
import io.rtensor.tensor.Tensor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.channels.SeekableByteChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.arrow.memory.BufferAllocator;

/**
 * numpy's {@code .npy} files (format versions 1.0, 2.0 and 3.0): one C-ordered, little-endian array
 * of a {@link DType} numpy has. The header is validated before anything is allocated, and the data
 * moves between the file and Arrow memory with no intermediate copy.
 *
 * <p>bfloat16 is refused both ways: numpy has no such dtype, and an array of ml_dtypes' bfloat16 is
 * saved with the opaque descriptor {@code '<V2'}, which does not say what the bytes are.
 *
 * <p>The header is read as numpy reads it, with the same bounds: at most {@value #MAX_HEADER_BYTES}
 * bytes (numpy's default {@code max_header_size}; a longer one is refused from its length field,
 * unread), decoded as latin-1 for versions 1.0 and 2.0 and as strict UTF-8 for 3.0, no NUL byte,
 * and a Python dict literal with exactly the keys {@code descr}, {@code fortran_order} and {@code
 * shape}. As in a Python dict literal (numpy evaluates the header with {@code ast.literal_eval}),
 * when a key appears twice the last value counts. The header is parsed in one pass, in time linear
 * in its length.
 */
public final class NpyFormat {
  private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};

  /** The longest header read, in bytes: numpy's default {@code max_header_size}. */
  public static final int MAX_HEADER_BYTES = 10_000;

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

  private static final Set<String> KEYS = Set.of("descr", "fortran_order", "shape");

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
      return read(channel, allocator);
    }
  }

  /**
   * Reads a {@code .npy} file that fills {@code channel} from its position to its end into a tensor
   * owned by {@code allocator}. The channel is left open.
   *
   * @throws WireFormatException for anything but a valid C-ordered little-endian array of a
   *     supported dtype whose data length matches its header
   */
  public static Tensor read(SeekableByteChannel channel, BufferAllocator allocator)
      throws IOException {
    long base = channel.position();
    long size = channel.size() - base;
    if (size < 10) {
      throw new WireFormatException("truncated: " + size + " bytes is shorter than a header", 0);
    }
    ByteBuffer prefix =
        ByteBuffer.allocate((int) Math.min(12, size)).order(ByteOrder.LITTLE_ENDIAN);
    readFully(channel, prefix, base, 0);
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
    if (headerLength > MAX_HEADER_BYTES) {
      throw new WireFormatException(
          "header of "
              + headerLength
              + " bytes exceeds the limit of "
              + MAX_HEADER_BYTES
              + " bytes (numpy's default max_header_size)",
          8);
    }
    if (headerStart + headerLength > size) {
      throw new WireFormatException(
          "header of " + headerLength + " bytes runs past the file (" + size + " bytes)", 8);
    }
    ByteBuffer headerBytes = ByteBuffer.allocate((int) headerLength);
    readFully(channel, headerBytes, base, headerStart);
    Header header = parseHeader(headerBytes.array(), major, headerStart);
    DType dtype = header.dtype;
    Shape shape = header.shape;
    long dataStart = headerStart + headerLength;
    long expected;
    try {
      expected = shape.byteSize(dtype);
    } catch (ArithmeticException | IllegalArgumentException e) {
      throw new WireFormatException(
          "shape " + shape + " of " + dtype.numpyName() + " overflows 64 bits", headerStart);
    }
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
        readFully(channel, target, base, dataStart + done);
        done += chunk;
      }
      return tensor;
    } catch (IOException | RuntimeException e) {
      tensor.close();
      throw e;
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
        ByteBuffer source = tensor.asReadOnlyByteBuffer(done, chunk);
        while (source.hasRemaining()) {
          out.write(source);
        }
        done += chunk;
      }
    }
  }

  /** What a header says. */
  private record Header(DType dtype, Shape shape) {}

  /**
   * Decodes and parses a header: the bytes between the length field and the data.
   *
   * @param at the header's offset in the file, for errors
   */
  private static Header parseHeader(byte[] bytes, int major, long at) {
    for (int i = 0; i < bytes.length; i++) {
      if (bytes[i] == 0) {
        throw new WireFormatException("header holds a NUL byte", at + i);
      }
    }
    String text;
    if (major == 3) {
      try {
        text =
            StandardCharsets.UTF_8
                .newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT)
                .decode(ByteBuffer.wrap(bytes))
                .toString();
      } catch (CharacterCodingException e) {
        throw new WireFormatException("a version 3.0 header is not valid UTF-8", at);
      }
    } else {
      text = new String(bytes, StandardCharsets.ISO_8859_1); // every byte is a latin-1 character
    }
    Object parsed = new PyLiteral(text, at, major < 3).document();
    if (!(parsed instanceof Map<?, ?> dict)) {
      throw new WireFormatException("header is not a dictionary: " + shown(text), at);
    }
    if (!dict.keySet().equals(KEYS)) {
      throw new WireFormatException(
          "header keys are "
              + dict.keySet().stream().map(NpyFormat::repr).sorted().toList()
              + ", expected 'descr', 'fortran_order' and 'shape'",
          at);
    }
    Object fortran = dict.get("fortran_order");
    if (!(fortran instanceof Boolean f)) {
      throw new WireFormatException("'fortran_order' is not True or False: " + shown(text), at);
    }
    if (f) {
      throw new WireFormatException(
          "Fortran-ordered arrays are not supported: save with np.ascontiguousarray first", at);
    }
    Object descr = dict.get("descr");
    if (!(descr instanceof String d)) {
      throw new WireFormatException(
          "unsupported dtype: 'descr' is not a string (structured dtypes are not supported)", at);
    }
    DType dtype = dtype(d, at);
    if (!(dict.get("shape") instanceof PyTuple tuple)) {
      throw new WireFormatException("'shape' is not a tuple of integers: " + shown(text), at);
    }
    List<Object> dims = tuple.items();
    long[] shape = new long[dims.size()];
    for (int i = 0; i < shape.length; i++) {
      if (!(dims.get(i) instanceof Long dim)) {
        throw new WireFormatException("'shape' is not a tuple of integers: " + shown(text), at);
      }
      shape[i] = dim;
    }
    try {
      return new Header(dtype, Shape.of(shape));
    } catch (IllegalArgumentException e) {
      throw new WireFormatException("invalid shape: " + e.getMessage(), at);
    }
  }

  private static DType dtype(String d, long at) {
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
      throw new WireFormatException("unsupported dtype '" + shown(d) + "'" + hint, at);
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

  /** A dictionary key as Python would print it, for error messages. */
  private static String repr(Object key) {
    if (key instanceof String k) {
      return "'" + shown(k) + "'";
    }
    if (key instanceof Boolean b) {
      return b ? "True" : "False";
    }
    return key == NONE ? "None" : String.valueOf(key);
  }

  /** Text for an error message: stripped, at most 200 characters. */
  private static String shown(String text) {
    String s = text.strip();
    return s.length() > 200 ? s.substring(0, 200) + "..." : s;
  }

  /**
   * The Python literals a {@code .npy} header is written in, read in one pass: dicts, tuples,
   * lists, strings, integers (with a Python 2 {@code L} suffix in version 1.0 and 2.0 headers,
   * which numpy filters too), {@code True}, {@code False}, {@code None}. A tuple is a {@link List}
   * of its items, an integer a {@link Long}. Nesting is bounded, so the recursion is.
   */
  private static final class PyLiteral {
    private static final int MAX_DEPTH = 32;
    private final String s;
    private final long at;
    private final boolean longSuffix;
    private int pos;

    PyLiteral(String s, long at, boolean longSuffix) {
      this.s = s;
      this.at = at;
      this.longSuffix = longSuffix;
    }

    Object document() {
      Object v = value(0);
      skipBlanks();
      if (pos != s.length()) {
        throw error("unexpected '" + s.charAt(pos) + "' after the dictionary");
      }
      return v;
    }

    private Object value(int depth) {
      if (depth > MAX_DEPTH) {
        throw error("nested deeper than " + MAX_DEPTH);
      }
      skipBlanks();
      if (pos >= s.length()) {
        throw error("unexpected end");
      }
      char c = s.charAt(pos);
      switch (c) {
        case '{':
          return dict(depth);
        case '(':
          return sequence(depth, ')', true);
        case '[':
          return sequence(depth, ']', false);
        case '\'':
        case '"':
          return string();
        default:
          if (c == '-' || c == '+' || (c >= '0' && c <= '9')) {
            return integer();
          }
          for (Object[] name :
              new Object[][] {{"True", Boolean.TRUE}, {"False", Boolean.FALSE}, {"None", NONE}}) {
            String word = (String) name[0];
            if (s.startsWith(word, pos) && !identifierAt(pos + word.length())) {
              pos += word.length();
              return name[1];
            }
          }
          throw error("unexpected '" + c + "'");
      }
    }

    private Map<Object, Object> dict(int depth) {
      pos++; // {
      Map<Object, Object> m = new HashMap<>();
      while (true) {
        skipBlanks();
        if (peek('}')) {
          pos++;
          return m;
        }
        Object key = value(depth + 1);
        if (key instanceof List<?> || key instanceof Map<?, ?> || key instanceof PyTuple) {
          throw error("a dictionary key must be a string");
        }
        skipBlanks();
        expect(':');
        m.put(key, value(depth + 1)); // a repeated key: the last value counts, as in Python
        skipBlanks();
        if (peek(',')) {
          pos++;
        } else if (!peek('}')) {
          throw error("expected ',' or '}'");
        }
      }
    }

    /** A tuple or list; a parenthesised single value without a comma is that value. */
    private Object sequence(int depth, char close, boolean tuple) {
      pos++; // ( or [
      List<Object> items = new ArrayList<>();
      boolean comma = false;
      while (true) {
        skipBlanks();
        if (peek(close)) {
          pos++;
          if (!tuple) {
            return items;
          }
          return items.size() == 1 && !comma ? items.get(0) : new PyTuple(items);
        }
        items.add(value(depth + 1));
        skipBlanks();
        if (peek(',')) {
          pos++;
          comma = true;
        } else if (!peek(close)) {
          throw error("expected ',' or '" + close + "'");
        }
      }
    }

    private String string() {
      char quote = s.charAt(pos++);
      StringBuilder sb = new StringBuilder();
      while (pos < s.length()) {
        char c = s.charAt(pos++);
        if (c == quote) {
          return sb.toString();
        }
        if (c == '\n' || c == '\r') {
          break;
        }
        if (c == '\\') {
          char e = pos < s.length() ? s.charAt(pos++) : 0;
          if (e != '\\' && e != '\'' && e != '"') {
            throw error("unsupported escape in a string");
          }
          c = e;
        }
        sb.append(c);
      }
      throw error("unterminated string");
    }

    private Long integer() {
      int start = pos;
      boolean negative = false;
      if (peek('-') || peek('+')) {
        negative = s.charAt(pos) == '-';
        pos++;
        skipBlanks();
      }
      int digits = pos;
      long v = 0;
      while (pos < s.length() && s.charAt(pos) >= '0' && s.charAt(pos) <= '9') {
        int d = s.charAt(pos) - '0';
        if (v > (Long.MAX_VALUE - d) / 10) {
          throw error(
              "integer "
                  + s.substring(start, Math.min(s.length(), start + 40))
                  + "... does not fit 64 bits");
        }
        v = v * 10 + d;
        pos++;
      }
      if (pos == digits) {
        throw error("expected a digit");
      }
      if (s.charAt(digits) == '0' && pos - digits > 1 && v != 0) {
        throw error("leading zeros in an integer");
      }
      if (longSuffix && (peek('L') || peek('l'))) {
        pos++;
      }
      if (identifierAt(pos) || peek('.')) {
        throw error("only integers are read");
      }
      return negative ? -v : v;
    }

    private boolean identifierAt(int i) {
      return i < s.length() && (Character.isLetterOrDigit(s.charAt(i)) || s.charAt(i) == '_');
    }

    private boolean peek(char c) {
      return pos < s.length() && s.charAt(pos) == c;
    }

    private void expect(char c) {
      if (!peek(c)) {
        throw error("expected '" + c + "'");
      }
      pos++;
    }

    private void skipBlanks() {
      while (pos < s.length() && " \t\n\r\f".indexOf(s.charAt(pos)) >= 0) {
        pos++;
      }
    }

    private WireFormatException error(String what) {
      return new WireFormatException(
          "header is not a Python literal: " + what + " at character " + pos + " of " + shown(s),
          at);
    }
  }

  /** A Python tuple. */
  private record PyTuple(List<Object> items) {}

  /** Python's {@code None}. */
  private static final Object NONE = new Object();

  private static void readFully(SeekableByteChannel channel, ByteBuffer into, long base, long from)
      throws IOException {
    long at = from;
    channel.position(base + at);
    while (into.hasRemaining()) {
      int n = channel.read(into);
      if (n < 0) {
        throw new WireFormatException("truncated at byte " + at, at);
      }
      at += n;
    }
  }
}
