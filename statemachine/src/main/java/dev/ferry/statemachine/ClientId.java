package dev.ferry.statemachine;

import java.security.SecureRandom;
import java.util.HexFormat;

/**
 * Identifies a client session: 128 random bits chosen by the client when it opens the session.
 *
 * @param high the high 64 bits
 * @param low the low 64 bits
 */
public record ClientId(long high, long low) {
  private static final SecureRandom RANDOM = new SecureRandom();

  /** A fresh random id. */
  public static ClientId random() {
    return new ClientId(RANDOM.nextLong(), RANDOM.nextLong());
  }

  @Override
  public String toString() {
    return HexFormat.of().toHexDigits(high) + HexFormat.of().toHexDigits(low);
  }
}
