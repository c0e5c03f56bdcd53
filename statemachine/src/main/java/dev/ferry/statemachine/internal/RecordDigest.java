package dev.ferry.statemachine.internal;

import dev.ferry.snapshot.ChunkId;
import java.security.MessageDigest;

/**
 * The digest element of one state record: SHA-256 of {@code 0x01, keyLength:u32, key, value}. The
 * domain byte keeps records apart from sessions; the key length keeps (key, value) splits apart.
 */
public final class RecordDigest {
  static final byte DOMAIN = 0x01;

  private RecordDigest() {}

  /** The 32-byte element hash of a record. */
  public static byte[] hash(byte[] key, byte[] value) {
    MessageDigest sha = ChunkId.sha256();
    sha.update(DOMAIN);
    int n = key.length;
    sha.update(new byte[] {(byte) (n >>> 24), (byte) (n >>> 16), (byte) (n >>> 8), (byte) n});
    sha.update(key);
    sha.update(value);
    return sha.digest();
  }
}
