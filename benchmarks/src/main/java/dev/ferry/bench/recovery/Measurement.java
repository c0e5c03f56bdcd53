package dev.ferry.bench.recovery;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * One measured scenario.
 *
 * @param id short stable name ({@code a}, {@code b.caught-up}, {@code c.1pct-random}, ...)
 * @param label what was measured, for the table
 * @param seconds wall time of the measured span
 * @param wireBytes bytes that crossed the network for the state (stored form), or -1 if none
 * @param stateBytes raw key+value bytes the receiver ends up with from this transfer: the whole
 *     state for a join, the changed keys for a delta
 * @param perSource bytes fetched from each source (empty where not applicable)
 * @param extra further figures for the JSON file (numbers or strings)
 * @param progress samples of cumulative bytes per source over time, {@code [millis, bytes...]} in
 *     the order of {@code perSource}'s keys (empty where not recorded)
 */
record Measurement(
    String id,
    String label,
    double seconds,
    long wireBytes,
    long stateBytes,
    Map<String, Long> perSource,
    Map<String, Object> extra,
    List<long[]> progress) {
  Measurement {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(label, "label");
    if (!(seconds >= 0)) {
      throw new IllegalArgumentException(id + ": bad duration " + seconds);
    }
    perSource = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(perSource));
    extra = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(extra));
    progress = List.copyOf(progress);
  }

  /** Raw state bytes per second (MB/s, 10^6). */
  double megabytesPerSecond() {
    return seconds == 0 ? 0 : stateBytes / seconds / 1e6;
  }

  /** One line for logs. */
  String summary() {
    return String.format(
        java.util.Locale.ROOT,
        "%s: %.2f s, %d bytes on the wire, %.1f MB/s of state, from %s",
        label,
        seconds,
        wireBytes,
        megabytesPerSecond(),
        perSource);
  }
}
