package dev.ferry.kv.shard;

import dev.ferry.statemachine.ApplyContext;
import dev.ferry.statemachine.StateLoader;
import dev.ferry.statemachine.StateMachine;
import dev.ferry.statemachine.StateView;
import java.nio.charset.StandardCharsets;

/**
 * The state machine of a sharded cluster's metadata group ({@code <cluster>.meta}): one {@link
 * ClusterLayout} and its version, changed only by compare-and-set. {@link ReplicatedClusterMap} is
 * its client.
 *
 * <p><b>Commands.</b> {@code SET_IF_VERSION(expected, layout)} stores {@code layout} when the
 * stored version is {@code expected} (0 when nothing is stored yet), the layout's version is {@code
 * expected + 1}, the layout names a metadata group ({@code meta} line) and, after the first,
 * belongs to the same cluster; otherwise it changes nothing and the reply names the stored version
 * (a conflict) or the problem (an invalid layout). Replies are a pure function of the state and the
 * command, as every replica must compute the same.
 *
 * <p><b>Query.</b> {@code READ}: the stored version and layout; through {@code FerryClient.query}
 * it is linearizable.
 *
 * <p><b>State and snapshots.</b> The stored layout's descriptor text as one record ({@link
 * StateView#singleRecord}); an empty record before the first write.
 *
 * <p>Concurrency: {@link #apply} runs on the apply thread; {@link #query} reads the state published
 * through a volatile field, on any thread.
 */
public final class MapStateMachine implements StateMachine {
  /** Version and layout, replaced whole; {@code layout} is null at version 0. */
  private record Stored(long version, ClusterLayout layout, String descriptor) {}

  private static final Stored EMPTY = new Stored(0, null, "");

  private volatile Stored stored = EMPTY;

  /** An empty map (version 0), as a new metadata group starts. */
  public MapStateMachine() {}

  @Override
  public byte[] apply(byte[] command, ApplyContext ctx) {
    long expected = MapCodec.expected(command);
    Stored now = stored;
    if (expected != now.version()) {
      return MapCodec.setReply(MapCodec.Outcome.CONFLICT, now.version(), "");
    }
    ClusterLayout layout;
    try {
      layout = ClusterLayout.parse(MapCodec.descriptor(command), "layout");
      check(
          layout.version() == expected + 1,
          "its version is " + layout.version() + ", not " + (expected + 1));
      check(layout.replicated(), "it names no metadata group (no meta line)");
      check(
          now.layout() == null || now.layout().cluster().equals(layout.cluster()),
          "it is of cluster " + layout.cluster() + ", not " + clusterOf(now));
    } catch (IllegalArgumentException e) {
      return MapCodec.setReply(MapCodec.Outcome.INVALID, now.version(), e.getMessage());
    }
    stored = new Stored(layout.version(), layout, layout.format());
    return MapCodec.setReply(MapCodec.Outcome.APPLIED, layout.version(), "");
  }

  @Override
  public byte[] query(byte[] request) {
    if (request.length != 1 || request[0] != MapCodec.READ) {
      throw new IllegalArgumentException("the metadata group answers READ (0x01) only");
    }
    Stored now = stored;
    return MapCodec.readReply(now.version(), now.descriptor());
  }

  @Override
  public StateView view() {
    return StateView.singleRecord(stored.descriptor().getBytes(StandardCharsets.UTF_8));
  }

  @Override
  public StateLoader newLoader() {
    return StateLoader.singleRecord(
        v -> {
          String text = v == null ? "" : new String(v, StandardCharsets.UTF_8);
          if (text.isEmpty()) {
            stored = EMPTY;
          } else {
            ClusterLayout l = ClusterLayout.parse(text, "snapshot of the metadata group");
            stored = new Stored(l.version(), l, text);
          }
        });
  }

  private static String clusterOf(Stored s) {
    return s.layout() == null ? "-" : s.layout().cluster();
  }

  private static void check(boolean ok, String problem) {
    if (!ok) {
      throw new IllegalArgumentException("layout refused: " + problem);
    }
  }
}
