package io.rtensor.runtime;

import java.util.Objects;

/**
 * A host and a port, written {@code host:port}, with IPv6 literals in brackets ({@code
 * [::1]:6379}). Every address rtensor joins or splits goes through here, so an IPv6 node address is
 * never cut at the wrong colon.
 *
 * @param host a name, an IPv4 literal or an IPv6 literal without brackets
 * @param port 0 to 65535
 */
public record HostPort(String host, int port) {

  public HostPort {
    Objects.requireNonNull(host, "host");
    if (host.isEmpty()) {
      throw new IllegalArgumentException("the host is empty");
    }
    if (host.startsWith("[") || host.endsWith("]")) {
      throw new IllegalArgumentException("give an IPv6 host without brackets, got '" + host + "'");
    }
    if (port < 0 || port > 65535) {
      throw new IllegalArgumentException("a port is in [0, 65535], got " + port);
    }
  }

  /**
   * Reads {@code host:port} or {@code [ipv6]:port}.
   *
   * @throws IllegalArgumentException naming what is wrong
   */
  public static HostPort parse(String address) {
    Objects.requireNonNull(address, "address");
    String host;
    String port;
    if (address.startsWith("[")) {
      int close = address.indexOf(']');
      if (close < 0 || close + 1 >= address.length() || address.charAt(close + 1) != ':') {
        throw new IllegalArgumentException("an IPv6 address is [host]:port, got '" + address + "'");
      }
      host = address.substring(1, close);
      port = address.substring(close + 2);
    } else {
      int colon = address.lastIndexOf(':');
      if (colon <= 0 || address.indexOf(':') != colon) {
        throw new IllegalArgumentException(
            "an address is host:port (IPv6 as [host]:port), got '" + address + "'");
      }
      host = address.substring(0, colon);
      port = address.substring(colon + 1);
    }
    try {
      return new HostPort(host, Integer.parseInt(port));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("not a port number in '" + address + "'", e);
    }
  }

  /** {@code host:port}, bracketing an IPv6 host. */
  public static String join(String host, int port) {
    return new HostPort(host, port).toString();
  }

  @Override
  public String toString() {
    return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
  }
}
