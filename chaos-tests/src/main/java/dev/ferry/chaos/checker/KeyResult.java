package dev.ferry.chaos.checker;

import dev.ferry.chaos.history.Op;
import java.util.List;
import java.util.Objects;

/**
 * The linearizability verdict for one key.
 *
 * @param key the key
 * @param verdict the verdict
 * @param ops how many operations were searched (FAIL operations, and UNKNOWN operations that cannot
 *     affect the verdict, are left out)
 * @param states how many search states were explored
 * @param linearized for NOT_LINEARIZABLE, the longest prefix of a linearization the search found,
 *     in linearization order; empty otherwise
 * @param stuck for NOT_LINEARIZABLE, the operations that were candidates to come next after that
 *     prefix (invoked before the earliest pending completion), none of which leads to a complete
 *     linearization; empty otherwise
 * @param explanation a short human-readable explanation; empty for LINEARIZABLE
 */
public record KeyResult(
    String key,
    Verdict verdict,
    int ops,
    long states,
    List<Op> linearized,
    List<Op> stuck,
    String explanation) {

  /** Validates and copies the lists. */
  public KeyResult {
    Objects.requireNonNull(key, "key");
    Objects.requireNonNull(verdict, "verdict");
    Objects.requireNonNull(explanation, "explanation");
    linearized = List.copyOf(linearized);
    stuck = List.copyOf(stuck);
    if (ops < 0 || states < 0) {
      throw new IllegalArgumentException("negative count: ops " + ops + ", states " + states);
    }
  }
}
