package dev.ferry.statemachine;

import java.io.IOException;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.Objects;
import java.util.function.Consumer;

/** The state of a keyless state machine as one record: {@link StateView#singleRecord}. */
final class SingleRecord {
  /** The record's key (a state machine that uses singleRecord has no keys of its own). */
  static final byte[] KEY = {0};

  private SingleRecord() {}

  /** Writes the value in shard 0. */
  record View(byte[] value) implements StateView {
    View {
      Objects.requireNonNull(value, "value");
    }

    @Override
    public void writeShard(int shard, RecordSink sink) throws IOException {
      if (shard == 0) {
        sink.put(KEY, value);
      }
    }
  }

  /** Collects the one record; only shard 0 may hold it. */
  static final class Loader implements StateLoader {
    private final Consumer<byte[]> onCommit;
    private volatile byte[] value;

    Loader(Consumer<byte[]> onCommit) {
      this.onCommit = Objects.requireNonNull(onCommit, "onCommit");
    }

    @Override
    public void loadShard(int shard, Iterator<Record> records) throws IOException {
      if (!records.hasNext()) {
        return;
      }
      Record r = records.next();
      if (shard != 0 || !Arrays.equals(r.key(), KEY) || records.hasNext()) {
        throw new IOException(
            "not a single-record state: shard "
                + shard
                + " holds key "
                + HexFormat.of().formatHex(r.key())
                + (records.hasNext() ? " and more records" : ""));
      }
      value = r.value();
    }

    @Override
    public void commit() {
      onCommit.accept(value);
    }

    @Override
    public void abort() {
      value = null;
    }
  }
}
