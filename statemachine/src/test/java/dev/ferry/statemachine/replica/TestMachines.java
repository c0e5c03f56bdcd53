package dev.ferry.statemachine.replica;

import dev.ferry.statemachine.ApplyContext;
import dev.ferry.statemachine.ClientId;
import dev.ferry.statemachine.CommandCodec;
import dev.ferry.statemachine.ReportsChanges;
import dev.ferry.statemachine.StateLoader;
import dev.ferry.statemachine.StateMachine;
import dev.ferry.statemachine.StateView;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.Iterator;
import java.util.Map;
import java.util.TreeMap;

/** Small state machines and command helpers for the replica tests. */
final class TestMachines {
  private TestMachines() {}

  /** A counter without keys: the whole state is one record. */
  static class Counter implements StateMachine {
    private volatile long value;
    int applied;

    @Override
    public byte[] apply(byte[] command, ApplyContext ctx) {
      applied++;
      value += ByteBuffer.wrap(command).getLong();
      return encode(value);
    }

    @Override
    public StateLoader newLoader() {
      return StateLoader.singleRecord(v -> value = v == null ? 0 : ByteBuffer.wrap(v).getLong());
    }

    @Override
    public StateView view() {
      return StateView.singleRecord(encode(value));
    }

    @Override
    public byte[] query(byte[] request) {
      return encode(value);
    }

    long value() {
      return value;
    }
  }

  static byte[] encode(long v) {
    return ByteBuffer.allocate(Long.BYTES).putLong(v).array();
  }

  /**
   * A string map that reports its changes; commands are {@code "put k v"} and {@code "del k"}. With
   * {@code forgetful}, a put of a key starting with {@code "quiet"} is not reported (the bug the
   * change check catches).
   */
  static final class MapMachine implements StateMachine, ReportsChanges {
    private final boolean forgetful;
    private volatile Map<String, String> map = Collections.emptyNavigableMap();

    MapMachine(boolean forgetful) {
      this.forgetful = forgetful;
    }

    @Override
    public byte[] apply(byte[] command, ApplyContext ctx) {
      String[] c = new String(command, StandardCharsets.UTF_8).split(" ");
      TreeMap<String, String> next = new TreeMap<>(map);
      String old = c[0].equals("put") ? next.put(c[1], c[2]) : next.remove(c[1]);
      map = Collections.unmodifiableNavigableMap(next);
      if (!(forgetful && c[1].startsWith("quiet"))) {
        ctx.changed(
            bytes(c[1]), old == null ? null : bytes(old), c[0].equals("put") ? bytes(c[2]) : null);
      }
      return old == null ? new byte[0] : bytes(old);
    }

    @Override
    public StateView view() {
      Map<String, String> m = map;
      return (shard, sink) -> {
        for (Map.Entry<String, String> e : m.entrySet()) {
          sink.put(bytes(e.getKey()), bytes(e.getValue()));
        }
      };
    }

    @Override
    public StateLoader newLoader() {
      TreeMap<String, String> loaded = new TreeMap<>();
      return new StateLoader() {
        @Override
        public void loadShard(int shard, Iterator<Record> records) {
          records.forEachRemaining(
              r ->
                  loaded.put(
                      new String(r.key(), StandardCharsets.UTF_8),
                      new String(r.value(), StandardCharsets.UTF_8)));
        }

        @Override
        public void commit() {
          map = Collections.unmodifiableNavigableMap(loaded);
        }

        @Override
        public void abort() {}
      };
    }

    @Override
    public byte[] query(byte[] request) {
      String v = map.get(new String(request, StandardCharsets.UTF_8));
      return v == null ? new byte[0] : bytes(v);
    }

    Map<String, String> map() {
      return map;
    }
  }

  static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  /** A user command of {@code client} with sequence {@code seq} (all before acknowledged). */
  static ByteBuffer user(ClientId client, long seq, byte[] payload) {
    return ByteBuffer.wrap(CommandCodec.userCommand(client, seq, seq, payload));
  }
}
