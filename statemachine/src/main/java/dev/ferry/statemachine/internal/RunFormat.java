package dev.ferry.statemachine.internal;

import dev.ferry.snapshot.ChunkId;
import dev.ferry.snapshot.ChunkRef;
import dev.ferry.snapshot.store.ChunkStore;
import dev.ferry.statemachine.StateLoader.Record;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.PriorityQueue;
import java.util.function.Function;

/**
 * The serialized form of a run: a sequence of records in strictly increasing unsigned key order,
 * each {@code flag:u8, keyLength:i32, key, [valueLength:i32, value]} where flag 0 is a put and flag
 * 1 a deletion (no value). A shard is the merge of its runs, later runs winning.
 */
public final class RunFormat {
  static final int PUT = 0;
  static final int DELETE = 1;

  /** Largest key or value a run may hold. */
  public static final int MAX_FIELD = 64 << 20;

  /** Fields up to this length are read into an exact array at once. */
  private static final int SMALL_FIELD = 64 << 10;

  private RunFormat() {}

  /** Writes records to a stream, checking their order. Not thread-safe. */
  public static final class Writer {
    private final DataOutputStream out;
    private byte[] previous;
    private long records;

    public Writer(OutputStream out) {
      this.out = new DataOutputStream(out);
    }

    /** Writes a put. */
    public void put(byte[] key, byte[] value) throws IOException {
      checkOrder(key);
      out.writeByte(PUT);
      out.writeInt(key.length);
      out.write(key);
      out.writeInt(value.length);
      out.write(value);
      records++;
    }

    /** Writes a deletion. */
    public void delete(byte[] key) throws IOException {
      checkOrder(key);
      out.writeByte(DELETE);
      out.writeInt(key.length);
      out.write(key);
      records++;
    }

    /** Records written so far. */
    public long records() {
      return records;
    }

    /** Flushes buffered bytes to the underlying stream (does not close it). */
    public void flush() throws IOException {
      out.flush();
    }

    private void checkOrder(byte[] key) {
      if (key.length > MAX_FIELD) {
        throw new IllegalArgumentException("key longer than " + MAX_FIELD + " bytes");
      }
      if (previous != null && Arrays.compareUnsigned(previous, key) >= 0) {
        throw new IllegalArgumentException(
            "records must be written in strictly increasing key order");
      }
      previous = key;
    }
  }

  /** One record of a run; {@code value == null} for a deletion. */
  record Entry(byte[] key, byte[] value) {}

  /** Reads one run's records in order, validating them. */
  static final class Reader implements Iterator<Entry> {
    private final DataInputStream in;
    private final String what;
    private Entry next;
    private byte[] previous;

    Reader(InputStream in, String what) throws IOException {
      this.in = new DataInputStream(in);
      this.what = what;
      advance();
    }

    private void advance() throws IOException {
      int flag = in.read();
      if (flag < 0) {
        next = null;
        return;
      }
      try {
        if (flag != PUT && flag != DELETE) {
          throw new IOException(what + ": bad record flag " + flag);
        }
        byte[] key = field();
        if (previous != null && Arrays.compareUnsigned(previous, key) >= 0) {
          throw new IOException(what + ": keys out of order");
        }
        previous = key;
        next = new Entry(key, flag == PUT ? field() : null);
      } catch (EOFException e) {
        throw new IOException(what + ": truncated record", e);
      }
    }

    private byte[] field() throws IOException {
      int n = in.readInt();
      if (n < 0 || n > MAX_FIELD) {
        throw new IOException(what + ": field length out of range: " + n);
      }
      if (n <= SMALL_FIELD) {
        // The common case: one exact allocation, no intermediate buffers (readNBytes copies).
        byte[] b = new byte[n];
        in.readFully(b); // EOFException when truncated
        return b;
      }
      // A large (or corrupt) length: read in pieces, so a lie does not allocate it up front.
      byte[] b = in.readNBytes(n);
      if (b.length != n) {
        throw new EOFException();
      }
      return b;
    }

    @Override
    public boolean hasNext() {
      return next != null;
    }

    @Override
    public Entry next() {
      if (next == null) {
        throw new NoSuchElementException();
      }
      Entry e = next;
      try {
        advance();
      } catch (IOException ex) {
        throw new CorruptRunException(ex);
      }
      return e;
    }
  }

  /** A run that turned out malformed while iterating. */
  static final class CorruptRunException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    CorruptRunException(IOException cause) {
      super(cause.getMessage(), cause);
    }

    IOException io() {
      return (IOException) getCause();
    }
  }

  /** Streams the concatenated raw bytes of a list of chunks, reading (and verifying) lazily. */
  static final class ChunkInputStream extends InputStream {
    private final ChunkStore store;
    private final Iterator<ChunkRef> refs;
    private final boolean hash;
    private final Function<ChunkId, byte[]> decoded;
    private final ReadCounter counter;
    private byte[] current = new byte[0];
    private int pos;

    ChunkInputStream(ChunkStore store, List<ChunkRef> refs) {
      this(store, refs, true, null);
    }

    /**
     * With {@code hash} false, chunks are read with {@link ChunkStore#readUnhashed}. A chunk whose
     * verified content {@code decoded} (when not null) answers is not read from the store at all.
     */
    ChunkInputStream(
        ChunkStore store, List<ChunkRef> refs, boolean hash, Function<ChunkId, byte[]> decoded) {
      this(store, refs, hash, decoded, null);
    }

    /** Like the above, counting every chunk read into {@code counter} (when not null). */
    ChunkInputStream(
        ChunkStore store,
        List<ChunkRef> refs,
        boolean hash,
        Function<ChunkId, byte[]> decoded,
        ReadCounter counter) {
      this.store = store;
      this.refs = refs.iterator();
      this.hash = hash;
      this.decoded = decoded;
      this.counter = counter;
    }

    private boolean fill() throws IOException {
      while (pos == current.length) {
        if (!refs.hasNext()) {
          return false;
        }
        ChunkRef ref = refs.next();
        byte[] held = decoded == null ? null : decoded.apply(ref.id());
        if (held != null) {
          current = held;
        } else {
          current = hash ? store.read(ref.id()) : store.readUnhashed(ref.id());
        }
        if (current.length != ref.rawSize()) {
          throw new IOException("chunk " + ref.id() + " has unexpected size " + current.length);
        }
        if (counter != null) {
          counter.add(current.length);
        }
        pos = 0;
      }
      return true;
    }

    @Override
    public int read() throws IOException {
      return fill() ? current[pos++] & 0xff : -1;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      if (len == 0) {
        return 0;
      }
      if (!fill()) {
        return -1;
      }
      int n = Math.min(len, current.length - pos);
      System.arraycopy(current, pos, b, off, n);
      pos += n;
      return n;
    }
  }

  /** Counts the chunks (and their raw bytes) loads read. Thread-safe. */
  static final class ReadCounter {
    private final java.util.concurrent.atomic.LongAdder chunks =
        new java.util.concurrent.atomic.LongAdder();
    private final java.util.concurrent.atomic.LongAdder bytes =
        new java.util.concurrent.atomic.LongAdder();

    void add(int rawBytes) {
      chunks.increment();
      bytes.add(rawBytes);
    }

    long chunks() {
      return chunks.sum();
    }

    long bytes() {
      return bytes.sum();
    }
  }

  /**
   * Merges runs (oldest first) into the shard's live records in key order: for a key in several
   * runs the newest wins, and deletions drop the key.
   */
  static Iterator<Record> merge(List<Iterator<Entry>> runs) {
    Iterator<Entry> all = mergeChanges(runs);
    return new Iterator<>() {
      private Record next = advance();

      private Record advance() {
        while (all.hasNext()) {
          Entry e = all.next();
          if (e.value() != null) {
            return new Record(e.key(), e.value());
          }
        }
        return null;
      }

      @Override
      public boolean hasNext() {
        return next != null;
      }

      @Override
      public Record next() {
        if (next == null) {
          throw new NoSuchElementException();
        }
        Record r = next;
        next = advance();
        return r;
      }
    };
  }

  /**
   * Merges runs (oldest first) into their net changes in key order: for a key in several runs the
   * newest entry wins, deletions included (an entry with a {@code null} value).
   */
  static Iterator<Entry> mergeChanges(List<Iterator<Entry>> runs) {
    if (runs.size() == 1) {
      return runs.get(0); // one run: already in order, one entry per key
    }
    record Head(Entry entry, int run) {}
    PriorityQueue<Head> heads =
        new PriorityQueue<>(
            (a, b) -> {
              int c = Arrays.compareUnsigned(a.entry.key(), b.entry.key());
              return c != 0 ? c : Integer.compare(b.run, a.run); // newest first on ties
            });
    List<Iterator<Entry>> its = new ArrayList<>(runs);
    for (int i = 0; i < its.size(); i++) {
      if (its.get(i).hasNext()) {
        heads.add(new Head(its.get(i).next(), i));
      }
    }
    return new Iterator<>() {
      private Entry next = advance();

      private Entry advance() {
        if (heads.isEmpty()) {
          return null;
        }
        Head top = heads.poll();
        refill(top.run);
        // Drop older versions of the same key.
        while (!heads.isEmpty() && Arrays.equals(heads.peek().entry.key(), top.entry.key())) {
          refill(heads.poll().run);
        }
        return top.entry;
      }

      private void refill(int run) {
        Iterator<Entry> it = its.get(run);
        if (it.hasNext()) {
          heads.add(new Head(it.next(), run));
        }
      }

      @Override
      public boolean hasNext() {
        return next != null;
      }

      @Override
      public Entry next() {
        if (next == null) {
          throw new NoSuchElementException();
        }
        Entry r = next;
        next = advance();
        return r;
      }
    };
  }
}
