package io.rtensor.transport.internal;

import io.grpc.netty.GrpcSslContexts;
import io.netty.handler.ssl.SslContext;
import io.rtensor.auth.SessionTls;
import javax.net.ssl.SSLException;

/**
 * Netty TLS contexts for the Flight data plane from a session's {@link SessionTls}: servers present
 * the session certificate, clients trust it alone. gRPC's defaults otherwise (TLS 1.2/1.3, HTTP/2
 * over ALPN, OpenSSL through netty-tcnative when it loads, else the JDK).
 */
public final class TlsContexts {
  private TlsContexts() {}

  /** A server context presenting the session's certificate (the identity must hold the key). */
  public static SslContext server(SessionTls tls) {
    try {
      return GrpcSslContexts.configure(
              io.netty.handler.ssl.SslContextBuilder.forServer(tls.privateKey(), tls.certificate()))
          .build();
    } catch (SSLException e) {
      throw new IllegalStateException("cannot set up the Flight server's TLS", e);
    }
  }

  /**
   * gRPC's TLS server negotiation with {@link #server}'s context, answering plaintext clients with
   * an explicit refusal ({@link TlsOnly}): for {@code NettyServerBuilder.protocolNegotiator}.
   */
  public static io.grpc.netty.InternalProtocolNegotiator.ProtocolNegotiator serverNegotiator(
      SessionTls tls) {
    return TlsOnly.serverTls(server(tls));
  }

  /**
   * A client context whose only trusted root is the session's certificate; the server's name is
   * checked against {@link SessionTls#SERVER_NAME}.
   */
  public static SslContext client(SessionTls tls) {
    try {
      return GrpcSslContexts.forClient().trustManager(tls.certificate()).build();
    } catch (SSLException e) {
      throw new IllegalStateException("cannot set up the Flight client's TLS", e);
    }
  }
}
