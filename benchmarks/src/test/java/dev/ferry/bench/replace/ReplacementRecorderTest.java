package dev.ferry.bench.replace;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.ferry.bench.move.KeySpace;
import dev.ferry.kv.shard.ClusterLayout;
import dev.ferry.kv.shard.NodeMoves;
import dev.ferry.kv.shard.NodeMoves.GroupProgress;
import dev.ferry.kv.shard.NodeMoves.Move;
import dev.ferry.kv.shard.NodeMoves.NodeProgress;
import dev.ferry.kv.shard.NodeMoves.State;
import dev.ferry.shipping.PeerAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class ReplacementRecorderTest {
  private static final Move A = new Move(0, "c.r0", "n2", "n7");
  private static final Move B = new Move(1, "c.r1", "n2", "n7");
  private static final Move C = new Move(2, "c.r2", "n2", "n7");

  private final AtomicLong now = new AtomicLong(5_000_000_000L);
  private final List<String> lines = new ArrayList<>();
  private final Replacement.Recorder rec =
      new Replacement.Recorder(5_000_000_000L, now::get, lines::add);

  private static GroupProgress at(Move m, State s, long done, long total) {
    return new GroupProgress(m, s, done, total, Optional.empty());
  }

  private static GroupProgress failed(Move m, String why) {
    return new GroupProgress(m, State.FAILED, 0, 0, Optional.of(why));
  }

  private void report(GroupProgress g, List<GroupProgress> all) {
    rec.progress(g, new NodeProgress("n2", all, Duration.ZERO));
  }

  private static NodeMoves.Result result(List<GroupProgress> groups, long seconds) {
    List<PeerAddress> peers = new ArrayList<>();
    for (int i = 1; i <= 7; i++) {
      peers.add(new PeerAddress("n" + i, "127.0.0.1", 9000 + 2 * i, 9001 + 2 * i));
    }
    ClusterLayout l = NodeReplacementBenchmark.layout("c", peers, new KeySpace(1000, 16), 3);
    return new NodeMoves.Result("n2", groups, l, Duration.ofSeconds(seconds));
  }

  @Test
  void aMoveFailedOnceThenDoneCountsOneFailedTryAndItsSecondPassTime() {
    rec.planned(List.of(A, B, C));
    report(at(A, State.INSTALLING, 0, 0), List.of());
    report(at(A, State.INSTALLING, 10, 100), List.of()); // bytes only: no new line
    rec.step(A, "n7 hosts c.r0 as a listener");
    now.addAndGet(2_000_000_000L);
    report(at(A, State.DONE, 100, 100), List.of());
    report(failed(B, "deadline"), List.of());
    now.addAndGet(1_000_000_000L);
    report(failed(C, "conflict"), List.of());
    NodeMoves.Result first =
        result(
            List.of(at(A, State.DONE, 100, 100), failed(B, "deadline"), failed(C, "conflict")), 3);
    // The second pass plans only B and C.
    now.addAndGet(4_000_000_000L);
    report(at(B, State.INSTALLING, 0, 0), List.of());
    report(at(B, State.DONE, 0, 0), List.of());
    report(at(C, State.INSTALLING, 0, 0), List.of());
    report(failed(C, "conflict again"), List.of());
    NodeMoves.Result again =
        result(List.of(at(B, State.DONE, 0, 0), failed(C, "conflict again")), 4);

    List<Replacement.GroupMove> moves = rec.moves(List.of(first, again));

    assertEquals(
        List.of(
            new Replacement.GroupMove("c.r0", 2.0, Map.of(), List.of(), ""),
            new Replacement.GroupMove("c.r1", 7.0, Map.of(), List.of("deadline"), ""),
            new Replacement.GroupMove(
                "c.r2", 7.0, Map.of(), List.of("conflict", "conflict again"), "conflict again")),
        moves);
    assertEquals("planned 3 moves: [c.r0 n2->n7, c.r1 n2->n7, c.r2 n2->n7]", lines.get(0));
    assertEquals("c.r0: phase INSTALLING (0/0 ended)", lines.get(1));
    assertEquals("c.r0: n7 hosts c.r0 as a listener", lines.get(2));
    assertEquals("c.r0: phase DONE (0/0 ended)", lines.get(3));
    assertEquals("c.r1: phase FAILED (deadline) (0/0 ended)", lines.get(4));
    assertEquals("c.r2: phase FAILED (conflict again) (0/0 ended)", lines.get(9));
    assertEquals(10, lines.size(), lines.toString());
  }

  @Test
  void aSinglePassWithEveryMoveDoneHasNoFailures() {
    report(at(A, State.DONE, 0, 0), List.of());
    List<Replacement.GroupMove> moves =
        rec.moves(List.of(result(List.of(at(A, State.DONE, 0, 0)), 1)));
    assertEquals(List.of(new Replacement.GroupMove("c.r0", 0.0, Map.of(), List.of(), "")), moves);
    assertThrows(IllegalArgumentException.class, () -> rec.moves(List.of()));
  }
}
