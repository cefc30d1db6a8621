package io.rtensor.tensor;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.core.exc.StreamConstraintsException;
import java.io.IOException;
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

  /** Longest extension metadata read, in characters. */
  static final int MAX_METADATA_CHARS = 64 << 10;

  /** Deepest nesting of arrays and objects in extension metadata. */
  static final int MAX_NESTING = 16;

  /** Longest string or object key in extension metadata, in characters. */
  static final int MAX_STRING_CHARS = 4096;

  /** Longest number in extension metadata, in characters (a long has at most 20 with its sign). */
  static final int MAX_NUMBER_CHARS = 32;

  private static final JsonFactory JSON =
      JsonFactory.builder()
          .streamReadConstraints(
              StreamReadConstraints.builder()
                  .maxDocumentLength(MAX_METADATA_CHARS)
                  .maxNestingDepth(MAX_NESTING)
                  .maxStringLength(MAX_STRING_CHARS)
                  .maxNameLength(MAX_STRING_CHARS)
                  .maxNumberLength(MAX_NUMBER_CHARS)
                  .build())
          .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
          .build();

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
   * The row shape in {@code arrow.fixed_shape_tensor} metadata: a JSON object whose {@code shape}
   * is an array of integers. {@code dim_names} and keys this reader does not know are skipped; a
   * {@code permutation} other than the identity is refused (the data would not be row-major).
   *
   * <p>The text is read with bounds that a hostile writer cannot push past: at most {@value
   * #MAX_METADATA_CHARS} characters, {@value #MAX_NESTING} levels of nesting, strings and names of
   * {@value #MAX_STRING_CHARS} characters, numbers of {@value #MAX_NUMBER_CHARS} characters. A key
   * twice in one object, text after the object, and anything that is not strict JSON are refused.
   */
  static Shape parseShapeJson(String column, String json) {
    if (json == null) {
      throw new IllegalArgumentException(
          "column '" + column + "': " + FIXED_SHAPE_TENSOR + " without " + EXTENSION_METADATA_KEY);
    }
    String bad = "column '" + column + "': bad " + FIXED_SHAPE_TENSOR + " metadata: ";
    if (json.length() > MAX_METADATA_CHARS) {
      throw new IllegalArgumentException(
          bad + json.length() + " characters, more than the " + MAX_METADATA_CHARS + " allowed");
    }
    long[] dims = null;
    long[] perm = null;
    try (JsonParser p = JSON.createParser(json)) {
      if (p.nextToken() != JsonToken.START_OBJECT) {
        throw new IllegalArgumentException(
            "column '" + column + "': " + FIXED_SHAPE_TENSOR + " metadata is not a JSON object");
      }
      for (JsonToken t = p.nextToken(); t == JsonToken.FIELD_NAME; t = p.nextToken()) {
        String key = p.currentName();
        JsonToken value = p.nextToken();
        switch (key) {
          case "shape" -> dims = longArray(p, value, column, key);
          case "permutation" -> perm = longArray(p, value, column, key);
          default -> skipValue(p); // dim_names, and keys added to the spec later
        }
      }
      // The loop ends at the object's END_OBJECT; anything after it is not this document.
      if (p.nextToken() != null) {
        throw new IllegalArgumentException(
            bad
                + "text after the JSON object at character "
                + p.currentTokenLocation().getCharOffset());
      }
    } catch (StreamConstraintsException e) {
      throw new IllegalArgumentException(
          bad + "exceeds a limit: " + e.getOriginalMessage() + where(e), e);
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException(bad + e.getOriginalMessage() + where(e), e);
    } catch (IOException e) {
      throw new IllegalStateException("reading JSON from a string failed", e);
    }
    if (dims == null) {
      throw new IllegalArgumentException(
          "column '" + column + "': " + FIXED_SHAPE_TENSOR + " metadata lacks \"shape\"");
    }
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

  /**
   * Reads past the value whose first token the parser has just read. Unlike {@link
   * JsonParser#skipChildren()} it decodes every string ({@code getText}, which checks the length
   * bound; the parser may otherwise hand out a string as a view of its input, unchecked), so the
   * bound holds for values this reader does not otherwise look at.
   */
  private static void skipValue(JsonParser p) throws IOException {
    int depth = 0;
    for (JsonToken t = p.currentToken(); ; t = p.nextToken()) {
      if (t == null) { // the parser reports an unclosed value itself; this is for safety
        throw new IllegalArgumentException("extension metadata ends inside a value");
      }
      if (t.isStructStart()) {
        depth++;
      } else if (t.isStructEnd()) {
        depth--;
      } else if (t == JsonToken.VALUE_STRING) {
        p.getText();
      }
      if (depth == 0) {
        return;
      }
    }
  }

  private static String where(JsonProcessingException e) {
    JsonLocation at = e.getLocation();
    return at == null || at.getCharOffset() < 0 ? "" : " (at character " + at.getCharOffset() + ")";
  }

  /** The integers of a JSON array whose first token, {@code first}, the parser has just read. */
  private static long[] longArray(JsonParser p, JsonToken first, String column, String key)
      throws IOException {
    if (first != JsonToken.START_ARRAY) {
      throw new IllegalArgumentException(
          "column '" + column + "': \"" + key + "\" is not a JSON array");
    }
    long[] out = new long[8];
    int n = 0;
    for (JsonToken t = p.nextToken(); t != JsonToken.END_ARRAY; t = p.nextToken()) {
      if (t != JsonToken.VALUE_NUMBER_INT) {
        throw new IllegalArgumentException(
            "column '" + column + "': \"" + key + "\"[" + n + "] is not an integer");
      }
      if (p.getNumberType() == JsonParser.NumberType.BIG_INTEGER) {
        throw new IllegalArgumentException(
            "column '"
                + column
                + "': \""
                + key
                + "\"["
                + n
                + "] = "
                + p.getText()
                + " does not fit 64 bits");
      }
      if (n == out.length) {
        out = java.util.Arrays.copyOf(out, n * 2);
      }
      out[n++] = p.getLongValue();
    }
    return java.util.Arrays.copyOf(out, n);
  }
}
