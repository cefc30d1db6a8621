package io.rtensor.transport.internal;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import org.apache.arrow.flight.CallHeaders;
import org.apache.arrow.flight.CallStatus;
import org.apache.arrow.flight.auth2.CallHeaderAuthenticator;

/**
 * Admits a Flight call only if it carries {@code authorization: Bearer <session secret>}; the
 * comparison takes the same time wherever the first difference is.
 */
public final class SessionTokenAuthenticator implements CallHeaderAuthenticator {
  private final byte[] expected;

  public SessionTokenAuthenticator(String secret) {
    if (secret == null || secret.length() < 16) {
      throw new IllegalArgumentException("the session secret must have at least 16 characters");
    }
    this.expected = (FlightWire.BEARER + secret).getBytes(StandardCharsets.UTF_8);
  }

  @Override
  public AuthResult authenticate(CallHeaders headers) {
    String value = headers.get(FlightWire.AUTH_HEADER);
    byte[] given = value == null ? new byte[0] : value.getBytes(StandardCharsets.UTF_8);
    if (!MessageDigest.isEqual(expected, given)) {
      throw CallStatus.UNAUTHENTICATED
          .withDescription(
              value == null
                  ? "no session token: send 'authorization: Bearer <secret>'"
                  : "wrong session token")
          .toRuntimeException();
    }
    return () -> "rtensor-session";
  }
}
