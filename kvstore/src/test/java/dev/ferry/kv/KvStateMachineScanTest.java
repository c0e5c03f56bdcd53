package dev.ferry.kv;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.ferry.kv.internal.KvCodec;
import dev.ferry.statemachine.ApplyContext;
import dev.ferry.statemachine.ShardLayout;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/** Scans return keys in order across shards, for hash-partitioned and key-range layouts alike. */
class KvStateMachineScanTest {

  private static final ApplyContext CTX =
      new ApplyContext() {
        @Override
        public long index() {
          return 1;
        }

        @Override
        public long term() {
          return 1;
        }

        @Override
        public void changed(byte[] key, byte[] oldValue, byte[] newValue) {}
      };

  private static byte[] b(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  @Test
  void scansMatchASortedReferenceForEveryLayout() {
    check(KvStateMachine.defaultLayout());
    check(KvStateMachine.firstByteRanges());
    check(ShardLayout.byHash(3));
    check(ShardLayout.single());
  }

  private static void check(ShardLayout layout) {
    KvStateMachine sm = new KvStateMachine(layout);
    TreeMap<String, String> model = new TreeMap<>();
    SplittableRandom r = new SplittableRandom(11);
    for (int i = 0; i < 3000; i++) {
      String k = (r.nextBoolean() ? "user:" : "k") + r.nextInt(2000);
      if (r.nextInt(6) == 0) {
        sm.apply(KvCodec.delete(b(k)), CTX);
        model.remove(k);
      } else {
        String v = "v" + i;
        sm.apply(KvCodec.put(b(k), b(v)), CTX);
        model.put(k, v);
      }
    }
    for (int q = 0; q < 200; q++) {
      String from = r.nextInt(5) == 0 ? null : (r.nextBoolean() ? "user:" : "k") + r.nextInt(2000);
      String to = r.nextInt(5) == 0 ? null : (r.nextBoolean() ? "user:" : "k") + r.nextInt(2000);
      int limit = 1 + r.nextInt(400);
      List<byte[][]> got =
          KvCodec.decodeScanReply(
              sm.query(
                  KvCodec.scan(from == null ? null : b(from), to == null ? null : b(to), limit)));
      List<Map.Entry<String, String>> want = new ArrayList<>();
      for (Map.Entry<String, String> e : model.entrySet()) {
        if ((from == null || e.getKey().compareTo(from) >= 0)
            && (to == null || e.getKey().compareTo(to) < 0)
            && want.size() < limit) {
          want.add(e);
        }
      }
      assertEquals(want.size(), got.size(), layout + " scan " + from + ".." + to + " /" + limit);
      for (int i = 0; i < want.size(); i++) {
        assertArrayEquals(b(want.get(i).getKey()), got.get(i)[0], layout + " at " + i);
        assertArrayEquals(b(want.get(i).getValue()), got.get(i)[1]);
      }
    }
    assertEquals(model.size(), sm.size());
  }
}
