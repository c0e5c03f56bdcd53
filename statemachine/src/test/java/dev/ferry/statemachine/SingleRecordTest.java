package dev.ferry.statemachine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class SingleRecordTest {
  @Test
  void aSingleRecordViewRoundTripsThroughItsLoader() throws IOException {
    List<StateLoader.Record> written = new ArrayList<>();
    StateView view = StateView.singleRecord(new byte[] {1, 2, 3});
    view.writeShard(0, (k, v) -> written.add(new StateLoader.Record(k, v)));
    assertEquals(1, written.size());

    AtomicReference<byte[]> committed = new AtomicReference<>();
    StateLoader loader = StateLoader.singleRecord(committed::set);
    loader.loadShard(0, written.iterator());
    assertNull(committed.get(), "nothing before commit");
    loader.commit();
    assertArrayEquals(new byte[] {1, 2, 3}, committed.get());
  }

  @Test
  void anEmptySnapshotCommitsNull() throws IOException {
    AtomicReference<byte[]> committed = new AtomicReference<>(new byte[1]);
    StateLoader loader = StateLoader.singleRecord(committed::set);
    loader.loadShard(0, Collections.emptyIterator());
    loader.commit();
    assertNull(committed.get());
  }

  @Test
  void aKeyedSnapshotIsRefused() {
    StateLoader loader = StateLoader.singleRecord(v -> {});
    IOException e =
        assertThrows(
            IOException.class,
            () ->
                loader.loadShard(
                    0,
                    List.of(new StateLoader.Record(new byte[] {(byte) 0xab}, new byte[0]))
                        .iterator()));
    assertEquals(true, e.getMessage().contains("ab"), e.getMessage());
  }

  @Test
  void aNullValueIsRefusedAtOnce() {
    assertThrows(NullPointerException.class, () -> StateView.singleRecord(null));
  }
}
