package dev.ferry.raft;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

class ServerMetricsTest {

  @Test
  void followerIdsPairWithMatchIndicesInOrder() {
    assertEquals(
        List.of(
            new ServerMetrics.FollowerIndex("n2", 40), new ServerMetrics.FollowerIndex("n3", 17)),
        ServerMetrics.pair(List.of("n2", "n3"), new long[] {40, 17}));
  }

  @Test
  void appendersThatChangedBetweenTheTwoReadsReportNothing() {
    assertEquals(List.of(), ServerMetrics.pair(List.of("n2", "n3"), new long[] {40}));
  }
}
