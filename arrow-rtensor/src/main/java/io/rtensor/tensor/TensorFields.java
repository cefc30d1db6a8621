package io.rtensor.tensor;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.arrow.vector.types.FloatingPointPrecision;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.FieldType;

/**
 * How a tensor column is described in an Arrow schema, the shard wire format's column layer.
 *
 * <ul>
 *   <li>A rank-1 tensor {@code [B]} is a primitive column of B rows.
 *   <li>A tensor {@code [B, d1, ...]} of rank ≥ 2 is a column of the canonical extension type
 *       {@code arrow.fixed_shape_tensor}: storage {@code FixedSizeList<T>[d1·…]}, field metadata
 *       {@code ARROW:extension:name = arrow.fixed_shape_tensor} and {@code ARROW:extension:metadata
 *       = {"shape":[d1,...]}}.
 *   <li>A rank-0 tensor is a primitive column of one row with field metadata {@code rtensor.shape =
 *       []}.
 *   <li>Element types: int8/16/32/64, uint8, float16 (Arrow half float), float32, float64 map to
 *       the Arrow types of the same name. Types Arrow lacks are stored as bits with field metadata
 *       {@code rtensor.dtype}: {@code bfloat16} as uint16, {@code bool} as uint8 (0/1, one byte per
 *       element like torch and numpy, not Arrow's bit-packed boolean).
 * </ul>
 *
 * Columns never hold nulls.
 */
public final class TensorFields {
  /** Field metadata key naming the dtype where the Arrow type alone does not (bfloat16, bool). */
  public static final String DTYPE_KEY = "rtensor.dtype";

  /** Field metadata key marking a rank-0 column; its value is {@code []}. */
  public static final String SHAPE_KEY = "rtensor.shape";

  /** Arrow's field metadata key for an extension type's name. */
  public static final String EXTENSION_NAME_KEY = "ARROW:extension:name";

  /** Arrow's field metadata key for an extension type's serialized parameters. */
  public static final String EXTENSION_METADATA_KEY = "ARROW:extension:metadata";

  /** The canonical extension name for fixed-shape tensors. */
  public static final String FIXED_SHAPE_TENSOR = "arrow.fixed_shape_tensor";

  private TensorFields() {}

  /** The Arrow type that stores elements of {@code dtype}. */
  public static ArrowType elementType(DType dtype) {
    return switch (dtype) {
      case BOOL, UINT8 -> new ArrowType.Int(8, false);
      case INT8 -> new ArrowType.Int(8, true);
      case INT16 -> new ArrowType.Int(16, true);
      case INT32 -> new ArrowType.Int(32, true);
      case INT64 -> new ArrowType.Int(64, true);
      case FLOAT16 -> new ArrowType.FloatingPoint(FloatingPointPrecision.HALF);
      case BFLOAT16 -> new ArrowType.Int(16, false);
      case FLOAT32 -> new ArrowType.FloatingPoint(FloatingPointPrecision.SINGLE);
      case FLOAT64 -> new ArrowType.FloatingPoint(FloatingPointPrecision.DOUBLE);
    };
  }

  /** The Arrow field of a column. */
  public static Field field(ColumnSpec spec) {
    Map<String, String> meta = new HashMap<>();
    if (spec.dtype() == DType.BOOL || spec.dtype() == DType.BFLOAT16) {
      meta.put(DTYPE_KEY, spec.dtype().numpyName());
    }
    ArrowType element = elementType(spec.dtype());
    if (spec.scalar()) {
      meta.put(SHAPE_KEY, "[]");
    }
    if (spec.scalar() || spec.rowShape().rank() == 0) {
      return new Field(spec.name(), new FieldType(false, element, null, meta), null);
    }
    long listSize = spec.rowShape().numel();
    if (listSize > Integer.MAX_VALUE) {
      throw new IllegalArgumentException(
          "row shape "
              + spec.rowShape()
              + " of column '"
              + spec.name()
              + "' exceeds 2^31 elements");
    }
    meta.put(EXTENSION_NAME_KEY, FIXED_SHAPE_TENSOR);
    meta.put(EXTENSION_METADATA_KEY, shapeJson(spec.rowShape()));
    Field item = new Field("item", FieldType.nullable(element), null);
    return new Field(
        spec.name(),
        new FieldType(false, new ArrowType.FixedSizeList((int) listSize), null, meta),
        List.of(item));
  }

  /**
   * Reads a column's spec from what an Arrow field says.
   *
   * @param name the field name
   * @param type the field's type
   * @param childType the type of the single child field, or null if there is none
   * @param metadata the field's metadata (may be empty, never null)
   * @throws IllegalArgumentException saying what does not fit the wire format
   */
  public static ColumnSpec parse(
      String name, ArrowType type, ArrowType childType, Map<String, String> metadata) {
    String dtypeName = metadata.get(DTYPE_KEY);
    DType declared = null;
    if (dtypeName != null) {
      try {
        declared = DType.parse(dtypeName);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(
            "column '" + name + "': " + DTYPE_KEY + " names an " + e.getMessage(), e);
      }
    }
    String extension = metadata.get(EXTENSION_NAME_KEY);
    if (type instanceof ArrowType.FixedSizeList fsl) {
      if (!FIXED_SHAPE_TENSOR.equals(extension)) {
        throw new IllegalArgumentException(
            "column '"
                + name
                + "': a fixed-size list column must be an "
                + FIXED_SHAPE_TENSOR
                + " extension column, extension name is "
                + (extension == null ? "absent" : "'" + extension + "'"));
      }
      if (childType == null) {
        throw new IllegalArgumentException("column '" + name + "': fixed-size list has no child");
      }
      DType dtype = elementDType(name, childType, declared);
      Shape rowShape = parseShapeJson(name, metadata.get(EXTENSION_METADATA_KEY));
      if (rowShape.numel() != fsl.getListSize()) {
        throw new IllegalArgumentException(
            "column '"
                + name
                + "': tensor shape "
                + rowShape
                + " has "
                + rowShape.numel()
                + " elements but the fixed-size list holds "
                + fsl.getListSize());
      }
      return new ColumnSpec(name, dtype, rowShape, false);
    }
    if (extension != null) {
      throw new IllegalArgumentException(
          "column '" + name + "': unsupported extension type '" + extension + "'");
    }
    if (childType != null) {
      throw new IllegalArgumentException(
          "column '" + name + "': a primitive column has a child field");
    }
    DType dtype = elementDType(name, type, declared);
    String shape = metadata.get(SHAPE_KEY);
    if (shape != null) {
      if (!shape.strip().equals("[]")) {
        throw new IllegalArgumentException(
            "column '" + name + "': " + SHAPE_KEY + " must be [] (rank 0), got '" + shape + "'");
      }
      return new ColumnSpec(name, dtype, Shape.scalar(), true);
    }
    return new ColumnSpec(name, dtype, Shape.scalar(), false);
  }

  private static DType elementDType(String name, ArrowType type, DType declared) {
    DType stored = storedDType(type);
    if (stored == null) {
      throw new IllegalArgumentException(
          "column '"
              + name
              + "': unsupported Arrow element type "
              + type
              + (type instanceof ArrowType.Bool
                  ? " (bit-packed booleans are not read; store bool as uint8 with "
                      + DTYPE_KEY
                      + "=bool)"
                  : ""));
    }
    if (declared == null) {
      if (stored == DType.BFLOAT16) {
        throw new IllegalArgumentException(
            "column '"
                + name
                + "': Arrow type uint16 is only read as bfloat16 bits, with "
                + DTYPE_KEY
                + "=bfloat16");
      }
      return stored;
    }
    if (!elementType(declared).equals(type)) {
      throw new IllegalArgumentException(
          "column '"
              + name
              + "': "
              + DTYPE_KEY
              + "="
              + declared
              + " needs Arrow type "
              + elementType(declared)
              + ", column is "
              + type);
    }
    return declared;
  }

  private static DType storedDType(ArrowType type) {
    if (type instanceof ArrowType.Int i) {
      return switch (i.getBitWidth() * (i.getIsSigned() ? 1 : -1)) {
        case 8 -> DType.INT8;
        case 16 -> DType.INT16;
        case 32 -> DType.INT32;
        case 64 -> DType.INT64;
        case -8 -> DType.UINT8;
        case -16 -> DType.BFLOAT16;
        default -> null;
      };
    }
    if (type instanceof ArrowType.FloatingPoint f) {
      return switch (f.getPrecision()) {
        case HALF -> DType.FLOAT16;
        case SINGLE -> DType.FLOAT32;
        case DOUBLE -> DType.FLOAT64;
      };
    }
    return null;
  }

  /** The extension metadata of a fixed-shape tensor with the given row shape. */
  public static String shapeJson(Shape rowShape) {
    StringBuilder sb = new StringBuilder("{\"shape\":[");
    for (int i = 0; i < rowShape.rank(); i++) {
      sb.append(i == 0 ? "" : ",").append(rowShape.dim(i));
    }
    return sb.append("]}").toString();
  }

  /**
   * The row shape in {@code arrow.fixed_shape_tensor} metadata. {@code dim_names} is ignored; a
   * {@code permutation} other than the identity is rejected (the data would not be row-major).
   */
  static Shape parseShapeJson(String column, String json) {
    if (json == null) {
      throw new IllegalArgumentException(
          "column '" + column + "': " + FIXED_SHAPE_TENSOR + " without " + EXTENSION_METADATA_KEY);
    }
    Object parsed;
    try {
      parsed = new Json(json).parseDocument();
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(
          "column '" + column + "': bad " + FIXED_SHAPE_TENSOR + " metadata: " + e.getMessage(), e);
    }
    if (!(parsed instanceof Map<?, ?> obj)) {
      throw new IllegalArgumentException(
          "column '" + column + "': " + FIXED_SHAPE_TENSOR + " metadata is not a JSON object");
    }
    long[] dims = longArray(column, "shape", obj.get("shape"), true);
    long[] perm = longArray(column, "permutation", obj.get("permutation"), false);
    if (perm != null) {
      for (int i = 0; i < perm.length; i++) {
        if (perm[i] != i || perm.length != dims.length) {
          throw new IllegalArgumentException(
              "column '"
                  + column
                  + "': permuted fixed_shape_tensor (permutation "
                  + java.util.Arrays.toString(perm)
                  + ") is not supported; write row-major tensors");
        }
      }
    }
    try {
      return Shape.of(dims);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("column '" + column + "': " + e.getMessage(), e);
    }
  }

  private static long[] longArray(String column, String key, Object value, boolean required) {
    if (value == null) {
      if (required) {
        throw new IllegalArgumentException(
            "column '" + column + "': " + FIXED_SHAPE_TENSOR + " metadata lacks \"" + key + "\"");
      }
      return null;
    }
    if (!(value instanceof List<?> list)) {
      throw new IllegalArgumentException(
          "column '" + column + "': \"" + key + "\" is not a JSON array");
    }
    long[] out = new long[list.size()];
    for (int i = 0; i < out.length; i++) {
      if (!(list.get(i) instanceof Long l)) {
        throw new IllegalArgumentException(
            "column '" + column + "': \"" + key + "\"[" + i + "] is not an integer");
      }
      out[i] = l;
    }
    return out;
  }

  /** A small strict JSON reader (objects, arrays, strings, integers, literals), depth-bounded. */
  private static final class Json {
    private static final int MAX_DEPTH = 16;
    private final String s;
    private int pos;

    Json(String s) {
      this.s = s;
    }

    Object parseDocument() {
      Object v = value(0);
      skipBlanks();
      if (pos != s.length()) {
        throw error("trailing characters");
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
          {
            pos++;
            Map<String, Object> m = new HashMap<>();
            skipBlanks();
            if (peek('}')) {
              pos++;
              return m;
            }
            while (true) {
              skipBlanks();
              String k = string();
              skipBlanks();
              expect(':');
              m.put(k, value(depth + 1));
              skipBlanks();
              if (peek(',')) {
                pos++;
              } else {
                expect('}');
                return m;
              }
            }
          }
        case '[':
          {
            pos++;
            List<Object> l = new ArrayList<>();
            skipBlanks();
            if (peek(']')) {
              pos++;
              return l;
            }
            while (true) {
              l.add(value(depth + 1));
              skipBlanks();
              if (peek(',')) {
                pos++;
              } else {
                expect(']');
                return l;
              }
            }
          }
        case '"':
          return string();
        default:
          if (c == '-' || (c >= '0' && c <= '9')) {
            return number();
          }
          for (String lit : new String[] {"true", "false", "null"}) {
            if (s.startsWith(lit, pos)) {
              pos += lit.length();
              return lit;
            }
          }
          throw error("unexpected character '" + c + "'");
      }
    }

    private String string() {
      expect('"');
      StringBuilder sb = new StringBuilder();
      while (pos < s.length()) {
        char c = s.charAt(pos++);
        if (c == '"') {
          return sb.toString();
        }
        if (c == '\\') {
          if (pos >= s.length()) {
            break;
          }
          char e = s.charAt(pos++);
          if (e == 'u') {
            if (pos + 4 > s.length()) {
              break;
            }
            try {
              sb.append((char) Integer.parseInt(s.substring(pos, pos + 4), 16));
            } catch (NumberFormatException ex) {
              throw error("bad \\u escape");
            }
            pos += 4;
          } else {
            sb.append(e);
          }
        } else {
          sb.append(c);
        }
      }
      throw error("unterminated string");
    }

    private Long number() {
      int start = pos;
      if (peek('-')) {
        pos++;
      }
      while (pos < s.length() && Character.isDigit(s.charAt(pos))) {
        pos++;
      }
      if (pos < s.length() && (s.charAt(pos) == '.' || s.charAt(pos) == 'e')) {
        throw error("non-integer number");
      }
      try {
        return Long.parseLong(s.substring(start, pos));
      } catch (NumberFormatException e) {
        throw error("bad integer '" + s.substring(start, pos) + "'");
      }
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
      while (pos < s.length() && Character.isWhitespace(s.charAt(pos))) {
        pos++;
      }
    }

    private IllegalArgumentException error(String what) {
      String shown = s.length() > 120 ? s.substring(0, 120) + "..." : s;
      return new IllegalArgumentException(what + " at character " + pos + " of '" + shown + "'");
    }
  }
}
