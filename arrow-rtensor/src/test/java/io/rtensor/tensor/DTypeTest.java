package io.rtensor.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class DTypeTest {
  @Test
  void byteWidthsMatchTorch() {
    int[] widths = {1, 1, 1, 2, 4, 8, 2, 2, 4, 8};
    DType[] order = {
      DType.BOOL,
      DType.UINT8,
      DType.INT8,
      DType.INT16,
      DType.INT32,
      DType.INT64,
      DType.FLOAT16,
      DType.BFLOAT16,
      DType.FLOAT32,
      DType.FLOAT64
    };
    for (int i = 0; i < order.length; i++) {
      assertEquals(widths[i], order[i].byteWidth(), order[i].toString());
    }
    assertEquals(10, DType.values().length);
  }

  @Test
  void torchAndNumpyNamesParseBack() {
    for (DType d : DType.values()) {
      assertEquals(d, DType.parse(d.torchName()));
      assertEquals(d, DType.parse(d.numpyName()));
      assertEquals("torch." + d.numpyName(), d.torchName());
    }
    assertEquals(DType.FLOAT32, DType.parse(" Float32 "));
    assertEquals(DType.INT64, DType.parse("torch.long"));
    assertEquals(DType.FLOAT16, DType.parse("torch.half"));
  }

  @Test
  void unknownNameIsNamedInTheError() {
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> DType.parse("complex64"));
    assertTrue(e.getMessage().contains("'complex64'"), e.getMessage());
    assertTrue(e.getMessage().contains("bfloat16"), e.getMessage());
  }

  @Test
  void halfFloatConversionsRoundTripRepresentableValues() {
    float[] values = {0f, -0f, 1f, -2.5f, 65504f, 6.1035156e-5f, 5.9604645e-8f, 0.333251953125f};
    for (float v : values) {
      assertEquals(v, Half.float16ToFloat(Half.floatToFloat16(v)), "float16 " + v);
    }
    assertEquals(Float.POSITIVE_INFINITY, Half.float16ToFloat(Half.floatToFloat16(1e6f)));
    assertTrue(Float.isNaN(Half.float16ToFloat(Half.floatToFloat16(Float.NaN))));
    // Halfway between 1 + 1/1024 (odd mantissa) and 1 + 2/1024 (even): rounds to even.
    assertEquals(1.0f + 2 / 1024f, Half.float16ToFloat(Half.floatToFloat16(1.0f + 1.5f / 1024)));
    assertEquals(1.0f, Half.float16ToFloat(Half.floatToFloat16(1.0f + 0.5f / 1024)));
    for (float v : new float[] {0f, 1f, -3.5f, 1.5e38f, 1e-38f}) {
      float b = Half.bfloat16ToFloat(Half.floatToBfloat16(v));
      assertEquals(v, b, Math.abs(v) / 128, "bfloat16 " + v);
    }
    assertEquals(1.0f, Half.bfloat16ToFloat(Half.floatToBfloat16(1.0f + 1 / 512f))); // ties to even
  }
}
