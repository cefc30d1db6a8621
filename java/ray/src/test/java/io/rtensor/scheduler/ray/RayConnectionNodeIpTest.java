package io.rtensor.scheduler.ray;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** How a driver finds its node IP from the record its raylet left in Ray's session directory. */
class RayConnectionNodeIpTest {

  private static Path record(Path tempDir, String content) throws IOException {
    Path session = Files.createDirectories(tempDir.resolve("session_latest"));
    return Files.writeString(session.resolve("node_ip_address.json"), content);
  }

  @Test
  void theRecordedNodeIpIsRead(@TempDir Path dir) throws IOException {
    record(dir, "{\"node_ip_address\": \"10.1.2.3\"}");
    assertEquals("10.1.2.3", RayConnection.cachedNodeIp(dir));
    record(dir, "{\"node_ip_address\":\"fe80::1\"}");
    assertEquals("fe80::1", RayConnection.cachedNodeIp(dir));
  }

  @Test
  void noRecordAnEmptyOneOrAnythingButAnIpLiteralGivesNothing(@TempDir Path dir)
      throws IOException {
    assertNull(RayConnection.cachedNodeIp(dir), "no session directory");
    record(dir, "{}");
    assertNull(RayConnection.cachedNodeIp(dir), "ray start without --node-ip-address");
    record(dir, "{\"node_ip_address\": \"evil.example; rm -rf /\"}");
    assertNull(RayConnection.cachedNodeIp(dir));
    record(dir, "{\"node_ip_address\": \"10.0.0.1\"}" + " ".repeat(5000));
    assertNull(RayConnection.cachedNodeIp(dir), "a record over 4 KiB is not Ray's");
  }
}
