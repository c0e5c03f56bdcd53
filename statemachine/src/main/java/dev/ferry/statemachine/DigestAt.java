package dev.ferry.statemachine;

import dev.ferry.snapshot.StateDigest;
import java.util.Objects;

/**
 * A replica's state digest at a log position.
 *
 * @param term the term of the entry at {@code index}
 * @param index the log index the digest describes
 * @param digest the state digest after applying {@code index}
 */
public record DigestAt(long term, long index, StateDigest digest) {
  public DigestAt {
    Objects.requireNonNull(digest, "digest");
  }
}
