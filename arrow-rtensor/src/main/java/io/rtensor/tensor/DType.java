package io.rtensor.tensor;

import java.util.HashMap;
import java.util.Locale;
import java.util.Map;

/**
 * Element types a tensor may hold, with their byte width and the names torch and numpy give them.
 *
 * <p>{@link #BOOL} is one byte per element (0 or 1), as in torch and numpy. {@link #BFLOAT16} is
 * held as its 16-bit pattern; numpy has no such type, so its numpy name is the one the {@code
 * ml_dtypes} package uses.
 */
public enum DType {
  BOOL(1, "torch.bool", "bool"),
  UINT8(1, "torch.uint8", "uint8"),
  INT8(1, "torch.int8", "int8"),
  INT16(2, "torch.int16", "int16"),
  INT32(4, "torch.int32", "int32"),
  INT64(8, "torch.int64", "int64"),
  FLOAT16(2, "torch.float16", "float16"),
  BFLOAT16(2, "torch.bfloat16", "bfloat16"),
  FLOAT32(4, "torch.float32", "float32"),
  FLOAT64(8, "torch.float64", "float64");

  private static final Map<String, DType> BY_NAME = new HashMap<>();

  static {
    for (DType t : values()) {
      BY_NAME.put(t.torchName, t);
      BY_NAME.put(t.numpyName, t);
    }
    // Aliases torch and numpy accept for the same types.
    BY_NAME.put("torch.half", FLOAT16);
    BY_NAME.put("torch.float", FLOAT32);
    BY_NAME.put("torch.double", FLOAT64);
    BY_NAME.put("torch.short", INT16);
    BY_NAME.put("torch.int", INT32);
    BY_NAME.put("torch.long", INT64);
    BY_NAME.put("bool_", BOOL);
    BY_NAME.put("half", FLOAT16);
    BY_NAME.put("single", FLOAT32);
    BY_NAME.put("double", FLOAT64);
  }

  private final int byteWidth;
  private final String torchName;
  private final String numpyName;

  DType(int byteWidth, String torchName, String numpyName) {
    this.byteWidth = byteWidth;
    this.torchName = torchName;
    this.numpyName = numpyName;
  }

  /** Bytes per element. */
  public int byteWidth() {
    return byteWidth;
  }

  /** The name torch prints, for example {@code torch.float32}. */
  public String torchName() {
    return torchName;
  }

  /** The name numpy uses, for example {@code float32}; also the wire format's dtype name. */
  public String numpyName() {
    return numpyName;
  }

  /** True for float16, bfloat16, float32 and float64. */
  public boolean isFloatingPoint() {
    return this == FLOAT16 || this == BFLOAT16 || this == FLOAT32 || this == FLOAT64;
  }

  /**
   * Parses a torch name ({@code torch.float32}, {@code torch.long}) or a numpy name ({@code
   * float32}, {@code int64}); case-insensitive, surrounding blanks ignored.
   *
   * @throws IllegalArgumentException naming the unknown type and the accepted names
   */
  public static DType parse(String name) {
    if (name == null) {
      throw new IllegalArgumentException("dtype name is null");
    }
    DType t = BY_NAME.get(name.strip().toLowerCase(Locale.ROOT));
    if (t == null) {
      throw new IllegalArgumentException(
          "unknown dtype '"
              + name
              + "'; expected one of "
              + String.join(", ", java.util.Arrays.stream(values()).map(DType::numpyName).toList())
              + " (or torch.<name>)");
    }
    return t;
  }

  @Override
  public String toString() {
    return numpyName;
  }
}
