package dev.ferry.chaos.checker;

import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * The linearizability verdict for a history: one {@link KeyResult} per register or counter key
 * (sorted by key), and their combination.
 *
 * @param verdict NOT_LINEARIZABLE if any key is, else UNKNOWN if any key is, else LINEARIZABLE
 *     (also for a history without register operations)
 * @param keys the per-key results, sorted by key
 * @param elapsed the time the check took
 */
public record LinearizabilityResult(Verdict verdict, List<KeyResult> keys, Duration elapsed) {
  /** Validates and copies the list. */
  public LinearizabilityResult {
    Objects.requireNonNull(verdict, "verdict");
    Objects.requireNonNull(elapsed, "elapsed");
    keys = List.copyOf(keys);
  }

  /** The result for {@code key}, if the history had register operations on it. */
  public Optional<KeyResult> key(String key) {
    return keys.stream().filter(k -> k.key().equals(key)).findFirst();
  }

  /** How many keys got {@code verdict}. */
  public long count(Verdict verdict) {
    return keys.stream().filter(k -> k.verdict() == verdict).count();
  }

  /** The total number of search states explored over all keys. */
  public long states() {
    return keys.stream().mapToLong(KeyResult::states).sum();
  }
}
