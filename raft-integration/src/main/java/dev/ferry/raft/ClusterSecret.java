package dev.ferry.raft;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * The secret every member of a cluster shares; peers prove they know it before the chunk service or
 * the admin RPC serves them. It comes from a file or an environment variable, never from a
 * command-line argument (those are visible to every user of the machine).
 *
 * <p>Immutable; {@link #toString()} never shows the secret.
 */
public final class ClusterSecret {
  /** The environment variable a secret may come from. */
  public static final String ENV = "FERRY_CLUSTER_SECRET";

  /** Shortest accepted secret, in bytes. */
  public static final int MIN_BYTES = 16;

  private final byte[] bytes;

  private ClusterSecret(byte[] bytes) {
    if (bytes.length < MIN_BYTES) {
      throw new IllegalArgumentException(
          "cluster secret must be at least " + MIN_BYTES + " bytes, got " + bytes.length);
    }
    this.bytes = bytes;
  }

  /** A secret from raw bytes (copied). */
  public static ClusterSecret of(byte[] bytes) {
    return new ClusterSecret(bytes.clone());
  }

  /**
   * Reads a secret file: its content, with one trailing newline removed.
   *
   * @throws IllegalArgumentException if the file is too short
   */
  public static ClusterSecret fromFile(Path file) throws IOException {
    byte[] b = Files.readAllBytes(file);
    int n = b.length;
    if (n > 0 && b[n - 1] == '\n') {
      n--;
      if (n > 0 && b[n - 1] == '\r') {
        n--;
      }
    }
    try {
      return new ClusterSecret(Arrays.copyOf(b, n));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
    }
  }

  /** The secret in {@value #ENV}, if set. */
  public static Optional<ClusterSecret> fromEnvironment(Map<String, String> env) {
    String v = env.get(ENV);
    if (v == null || v.isEmpty()) {
      return Optional.empty();
    }
    try {
      return Optional.of(new ClusterSecret(v.getBytes(StandardCharsets.UTF_8)));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(ENV + ": " + e.getMessage(), e);
    }
  }

  /** A fresh random secret (32 bytes, as 64 hex characters so it can live in a text file). */
  public static ClusterSecret random() {
    byte[] raw = new byte[32];
    new SecureRandom().nextBytes(raw);
    return new ClusterSecret(
        java.util.HexFormat.of().formatHex(raw).getBytes(StandardCharsets.US_ASCII));
  }

  /** Writes the secret to a new file readable only by its owner (where the file system allows). */
  public void writeTo(Path file) throws IOException {
    Files.write(file, bytes);
    try {
      Files.setPosixFilePermissions(
          file, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
    } catch (UnsupportedOperationException ignored) {
      // not a POSIX file system
    }
  }

  /** A copy of the secret's bytes. */
  public byte[] bytes() {
    return bytes.clone();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof ClusterSecret other && MessageDigest.isEqual(bytes, other.bytes);
  }

  @Override
  public int hashCode() {
    return Objects.hash(bytes.length);
  }

  @Override
  public String toString() {
    return "ClusterSecret[" + bytes.length + " bytes]";
  }
}
