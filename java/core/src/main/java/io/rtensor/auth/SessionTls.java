package io.rtensor.auth;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.security.spec.PKCS8EncodedKeySpec;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Base64;
import java.util.Objects;

/**
 * The TLS identity of one scheduler session's Flight data plane: an EC P-256 key and a self-signed
 * certificate for {@link #SERVER_NAME}, made by the controller in memory when the session starts
 * and handed to its workers the way the session secret is (a local worker's environment, a Ray
 * actor sealed with {@link SecretSeal}). Every shard server of the session serves this certificate
 * and every client trusts exactly it (the only trusted root) and checks the server's name against
 * {@link #SERVER_NAME}, not against the address it dialled: node addresses are not known when the
 * certificate is made. The session handshake ({@link SessionAuth}) still runs on top.
 *
 * <p>A client only needs {@link #trustOnly()}: the certificate without the key.
 */
public final class SessionTls {
  /** The environment variable that carries {@link #encode()} to a local worker process. */
  public static final String ENV = "RTENSOR_FLIGHT_TLS_IDENTITY";

  /** The name the certificate is made for; clients verify it instead of the dialled host. */
  public static final String SERVER_NAME = "rtensor-session";

  /** How long a session certificate is valid (a session lasts at most this long). */
  static final Duration VALIDITY = Duration.ofDays(366);

  private static final SecureRandom RANDOM = new SecureRandom();
  private static final String PREFIX = "rtls1:";

  private final PrivateKey key;
  private final X509Certificate certificate;

  private SessionTls(PrivateKey key, X509Certificate certificate) {
    this.key = key;
    this.certificate = Objects.requireNonNull(certificate, "certificate");
  }

  /** A fresh identity: a new P-256 key and its self-signed certificate. */
  public static SessionTls generate() {
    try {
      KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
      g.initialize(new ECGenParameterSpec("secp256r1"), RANDOM);
      KeyPair pair = g.generateKeyPair();
      byte[] tbs = tbsCertificate(pair.getPublic(), Instant.now());
      Signature s = Signature.getInstance("SHA256withECDSA");
      s.initSign(pair.getPrivate(), RANDOM);
      s.update(tbs);
      byte[] der = Der.seq(tbs, ECDSA_SHA256, Der.bitString(s.sign()));
      X509Certificate cert = parseCertificate(der);
      cert.verify(pair.getPublic());
      return new SessionTls(pair.getPrivate(), cert);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("cannot make the session's TLS certificate", e);
    }
  }

  /** The identity a worker was given in {@link #ENV}, or null when the session uses no TLS. */
  public static SessionTls fromEnvironment() {
    String value = System.getenv(ENV);
    return value == null || value.isBlank() ? null : decode(value);
  }

  /** Reads what {@link #encode()} wrote. */
  public static SessionTls decode(String encoded) {
    Objects.requireNonNull(encoded, "encoded");
    if (!encoded.startsWith(PREFIX)) {
      throw new IllegalArgumentException("not an encoded session TLS identity");
    }
    String[] parts = encoded.substring(PREFIX.length()).split(":", -1);
    if (parts.length != 2) {
      throw new IllegalArgumentException("malformed session TLS identity");
    }
    try {
      X509Certificate cert = parseCertificate(Base64.getDecoder().decode(parts[1]));
      PrivateKey key =
          parts[0].isEmpty()
              ? null
              : KeyFactory.getInstance("EC")
                  .generatePrivate(new PKCS8EncodedKeySpec(Base64.getDecoder().decode(parts[0])));
      return new SessionTls(key, cert);
    } catch (GeneralSecurityException | IllegalArgumentException e) {
      throw new IllegalArgumentException("malformed session TLS identity: " + e.getMessage(), e);
    }
  }

  /**
   * The key (PKCS#8) and certificate (DER), as text for a worker's environment or a sealed message.
   * Secret while it holds the key: hand it only as the session secret is handed.
   */
  public String encode() {
    Base64.Encoder b64 = Base64.getEncoder();
    return PREFIX
        + (key == null ? "" : b64.encodeToString(key.getEncoded()))
        + ":"
        + b64.encodeToString(der());
  }

  /** The certificate alone: what a client needs (it trusts it; it cannot serve with it). */
  public SessionTls trustOnly() {
    return key == null ? this : new SessionTls(null, certificate);
  }

  /** True if this identity holds the private key (a server can use it). */
  public boolean hasKey() {
    return key != null;
  }

  /** The private key. */
  public PrivateKey privateKey() {
    if (key == null) {
      throw new IllegalStateException("this session TLS identity holds only the certificate");
    }
    return key;
  }

  /** The session certificate. */
  public X509Certificate certificate() {
    return certificate;
  }

  /** The certificate in PEM, for pyarrow's {@code tls_root_certs}. */
  public String certificatePem() {
    return "-----BEGIN CERTIFICATE-----\n"
        + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(der())
        + "\n-----END CERTIFICATE-----\n";
  }

  /** The private key in PEM (PKCS#8). */
  public String privateKeyPem() {
    return "-----BEGIN PRIVATE KEY-----\n"
        + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII))
            .encodeToString(privateKey().getEncoded())
        + "\n-----END PRIVATE KEY-----\n";
  }

  private byte[] der() {
    try {
      return certificate.getEncoded();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  @Override
  public String toString() {
    return "SessionTls[" + SERVER_NAME + (key == null ? ", certificate only]" : ", key hidden]");
  }

  private static X509Certificate parseCertificate(byte[] der) throws GeneralSecurityException {
    return (X509Certificate)
        CertificateFactory.getInstance("X.509").generateCertificate(new ByteArrayInputStream(der));
  }

  // --- The certificate, in DER (RFC 5280), with the JDK's key and signature classes.

  /** AlgorithmIdentifier ecdsa-with-SHA256 (1.2.840.10045.4.3.2), no parameters. */
  private static final byte[] ECDSA_SHA256 =
      Der.seq(Der.oid(0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x02));

  private static byte[] tbsCertificate(PublicKey publicKey, Instant now) {
    byte[] serial = new byte[16];
    RANDOM.nextBytes(serial);
    serial[0] = (byte) ((serial[0] & 0x3F) | 0x40); // positive, minimal
    byte[] name =
        Der.seq(
            Der.set(
                Der.seq(
                    Der.oid(0x55, 0x04, 0x03), // commonName
                    Der.tlv(0x0C, SERVER_NAME.getBytes(StandardCharsets.UTF_8)))));
    byte[] validity =
        Der.seq(Der.utcTime(now.minus(Duration.ofHours(1))), Der.utcTime(now.plus(VALIDITY)));
    byte[] basicConstraints =
        extension(
            Der.oid(0x55, 0x1D, 0x13), true, Der.seq(Der.tlv(0x01, new byte[] {(byte) 0xFF})));
    // digitalSignature (bit 0) and keyCertSign (bit 5): 1000 0100, two unused bits.
    byte[] keyUsage =
        extension(Der.oid(0x55, 0x1D, 0x0F), true, Der.tlv(0x03, new byte[] {2, (byte) 0x84}));
    byte[] subjectAltName =
        extension(
            Der.oid(0x55, 0x1D, 0x11),
            false,
            Der.seq(Der.tlv(0x82, SERVER_NAME.getBytes(StandardCharsets.US_ASCII))));
    return Der.seq(
        Der.tlv(0xA0, Der.tlv(0x02, new byte[] {2})), // version v3
        Der.tlv(0x02, serial),
        ECDSA_SHA256,
        name,
        validity,
        name,
        publicKey.getEncoded(), // SubjectPublicKeyInfo
        Der.tlv(0xA3, Der.seq(basicConstraints, keyUsage, subjectAltName)));
  }

  private static byte[] extension(byte[] oid, boolean critical, byte[] value) {
    return critical
        ? Der.seq(oid, Der.tlv(0x01, new byte[] {(byte) 0xFF}), Der.tlv(0x04, value))
        : Der.seq(oid, Der.tlv(0x04, value));
  }

  /** The few DER encodings a certificate needs. */
  private static final class Der {
    private Der() {}

    static byte[] tlv(int tag, byte[]... parts) {
      ByteArrayOutputStream body = new ByteArrayOutputStream();
      for (byte[] p : parts) {
        body.writeBytes(p);
      }
      int n = body.size();
      ByteArrayOutputStream out = new ByteArrayOutputStream(n + 6);
      out.write(tag);
      if (n < 0x80) {
        out.write(n);
      } else {
        int bytes = (32 - Integer.numberOfLeadingZeros(n) + 7) / 8;
        out.write(0x80 | bytes);
        for (int i = bytes - 1; i >= 0; i--) {
          out.write(n >>> (8 * i));
        }
      }
      out.writeBytes(body.toByteArray());
      return out.toByteArray();
    }

    static byte[] seq(byte[]... parts) {
      return tlv(0x30, parts);
    }

    static byte[] set(byte[]... parts) {
      return tlv(0x31, parts);
    }

    static byte[] oid(int... encoded) {
      byte[] b = new byte[encoded.length];
      for (int i = 0; i < b.length; i++) {
        b[i] = (byte) encoded[i];
      }
      return tlv(0x06, b);
    }

    static byte[] bitString(byte[] bits) {
      byte[] b = new byte[bits.length + 1]; // no unused bits
      System.arraycopy(bits, 0, b, 1, bits.length);
      return tlv(0x03, b);
    }

    static byte[] utcTime(Instant t) {
      String s =
          DateTimeFormatter.ofPattern("yyMMddHHmmss'Z'")
              .withZone(ZoneOffset.UTC)
              .format(t.plusMillis(0));
      return tlv(0x17, s.getBytes(StandardCharsets.US_ASCII));
    }
  }
}
