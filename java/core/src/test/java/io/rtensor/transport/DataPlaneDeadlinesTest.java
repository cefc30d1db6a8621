package io.rtensor.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

class DataPlaneDeadlinesTest {

  @Test
  void theOverallDeadlineGrowsWithTheBytesFromItsBase() {
    DataPlaneDeadlines d = DataPlaneDeadlines.DEFAULT;
    assertEquals(Duration.ofSeconds(30), d.stall());
    assertEquals(Duration.ofSeconds(120), d.overallFor(0));
    assertEquals(Duration.ofSeconds(120 + 128), d.overallFor(1L << 30), "1 GiB at 8 MiB/s");
    assertEquals(Duration.ofMillis(120_500), d.overallFor(4L << 20), "half a second more");
    assertTrue(d.overallFor(Long.MAX_VALUE).toDays() > 365, "no overflow");
  }

  @Test
  void theEnvironmentOverridesWhatItSetsAndBadValuesAreNamed() {
    DataPlaneDeadlines d =
        DataPlaneDeadlines.from(
            Map.of(DataPlaneDeadlines.STALL_ENV, "2500", DataPlaneDeadlines.RATE_ENV, "1048576"));
    assertEquals(Duration.ofMillis(2500), d.stall());
    assertEquals(1L << 20, d.minBytesPerSecond());
    assertEquals(DataPlaneDeadlines.DEFAULT.base(), d.base());
    assertEquals(DataPlaneDeadlines.DEFAULT.action(), d.action());
    for (String bad : new String[] {"0", "-5", "soon", "1.5"}) {
      IllegalArgumentException e =
          assertThrows(
              IllegalArgumentException.class,
              () -> DataPlaneDeadlines.from(Map.of(DataPlaneDeadlines.ACTION_ENV, bad)));
      assertTrue(e.getMessage().contains(DataPlaneDeadlines.ACTION_ENV), e.getMessage());
    }
    assertThrows(
        IllegalArgumentException.class, () -> DataPlaneDeadlines.DEFAULT.withStall(Duration.ZERO));
  }
}
