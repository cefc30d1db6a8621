package io.rtensor.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class HostPortTest {

  @Test
  void ipv6LiteralsAreBracketedWhenJoinedAndUnbracketedWhenParsed() {
    assertEquals("[::1]:6379", HostPort.join("::1", 6379));
    assertEquals("[fe80::1:2]:80", HostPort.join("fe80::1:2", 80));
    assertEquals(new HostPort("::1", 6379), HostPort.parse("[::1]:6379"));
    assertEquals(new HostPort("fe80::1:2", 80), HostPort.parse("[fe80::1:2]:80"));
  }

  @Test
  void namesAndIpv4AreJoinedPlain() {
    assertEquals("127.0.0.2:1", HostPort.join("127.0.0.2", 1));
    assertEquals(new HostPort("node-a", 65535), HostPort.parse("node-a:65535"));
    assertEquals("node-a:0", HostPort.parse("node-a:0").toString());
  }

  @Test
  void malformedAddressesAreRefusedWithTheReason() {
    for (String bad :
        new String[] {
          "::1:6379", "[::1]6379", "[::1", "host", ":80", "host:", "host:port", "host:70000", "[]:1"
        }) {
      assertThrows(IllegalArgumentException.class, () -> HostPort.parse(bad), bad);
    }
    assertThrows(IllegalArgumentException.class, () -> HostPort.join("[::1]", 1));
    assertThrows(IllegalArgumentException.class, () -> HostPort.join("h", -1));
  }
}
