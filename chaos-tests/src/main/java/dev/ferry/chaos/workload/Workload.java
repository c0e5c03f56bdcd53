package dev.ferry.chaos.workload;

import dev.ferry.chaos.history.History;
import dev.ferry.chaos.history.Op;
import dev.ferry.chaos.history.OpType;
import dev.ferry.chaos.history.Outcome;
import dev.ferry.kv.KvClient;
import dev.ferry.kv.KvException;
import dev.ferry.kv.KvOperations;
import dev.ferry.kv.KvTimeoutException;
import dev.ferry.statemachine.ReplyStatus;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Supplier;

/**
 * Concurrent clients doing register, counter and set operations on a Ferry cluster, every operation
 * recorded in a {@link History}:
 *
 * <ul>
 *   <li>registers {@code r0 … r<n-1>} (stored at {@code reg/<name>}): reads, writes and
 *       compare-and-sets; every written value is unique in the run, so a read names the write it
 *       saw; registers start at 0 (written, and recorded, by {@link #setUp});
 *   <li>counter {@code counter} (stored at {@code ctr/counter}): increments by 1 and reads; a
 *       double apply or a lost increment shows in the final value;
 *   <li>set {@code set}: each insert of a unique element is its own key {@code set/<element>}; a
 *       read of the set is a scan of that prefix; a lost acknowledged insert is missing from the
 *       final read.
 * </ul>
 *
 * <p>Outcomes: a reply is OK; a write refused by the replicas (session expired, stale sequence, too
 * many outstanding) is FAIL; a write whose deadline passed, or that failed any other way, is
 * UNKNOWN (it may still be applied). A read that fails has no effect, so it is FAIL. After an
 * UNKNOWN a client continues as a new process with a new session (a process has at most one
 * operation outstanding, and the unknown one may still be).
 *
 * <p>Concurrency: {@link #start} runs one thread per client; the other methods are called by the
 * driving thread. The clients come from a supplier (one session each).
 */
public final class Workload {
  /** The counter's key in the history. */
  public static final String COUNTER = "counter";

  /** The set's key in the history. */
  public static final String SET = "set";

  private static final byte[] SET_FROM = bytes("set/");
  private static final byte[] SET_TO = bytes("set0"); // '0' follows '/'
  private static final int SCAN_PAGE = 5_000;
  private static final long FINAL_RETRY_NANOS = TimeUnit.MILLISECONDS.toNanos(200);

  private final Supplier<? extends KvOperations> clients;
  private final History history;
  private final WorkloadConfig config;
  private final long seed;
  private final List<String> registers = new ArrayList<>();
  private final AtomicLong nextValue = new AtomicLong(1);
  private final AtomicInteger nextProcess = new AtomicInteger();
  private final Map<String, Long> lastSeen = new ConcurrentHashMap<>();
  private final Map<OpType, Map<Outcome, AtomicLong>> counts = new EnumMap<>(OpType.class);
  private final List<Thread> threads = new ArrayList<>();
  private final List<String> anomalies = new java.util.concurrent.CopyOnWriteArrayList<>();
  private volatile boolean running;

  /**
   * A workload on the cluster {@code clients} connect to.
   *
   * @param clients makes a new client (a new session; of a sharded cluster, a routing client with a
   *     session per group) each time it is called; its operation timeout should be {@link
   *     WorkloadConfig#opTimeout()}
   * @param seed seeds each client's choice of operations
   */
  public Workload(
      Supplier<? extends KvOperations> clients, History history, WorkloadConfig config, long seed) {
    this.clients = Objects.requireNonNull(clients, "clients");
    this.history = Objects.requireNonNull(history, "history");
    this.config = Objects.requireNonNull(config, "config");
    this.seed = seed;
    for (int i = 0; i < config.registers(); i++) {
      registers.add("r" + i);
    }
    for (OpType t : OpType.values()) {
      Map<Outcome, AtomicLong> m = new EnumMap<>(Outcome.class);
      for (Outcome o : Outcome.values()) {
        m.put(o, new AtomicLong());
      }
      counts.put(t, m);
    }
  }

  /** The register keys. */
  public List<String> registers() {
    return List.copyOf(registers);
  }

  /**
   * Writes 0 to every register (recorded, as process 0), retrying each until it is acknowledged or
   * {@code timeout} passes.
   *
   * @throws IOException if a register could not be written in time
   */
  public void setUp(Duration timeout) throws IOException {
    int process = nextProcess.getAndIncrement();
    KvOperations kv = clients.get();
    try {
      for (String r : registers) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (write(kv, process, r, 0) != Outcome.OK) {
          kv.close();
          kv = clients.get();
          process = nextProcess.getAndIncrement();
          if (System.nanoTime() - deadline > 0) {
            throw new IOException("could not initialise register " + r + " in " + timeout);
          }
        }
      }
    } finally {
      kv.close();
    }
  }

  /** Starts the client threads. */
  public synchronized void start() {
    if (running) {
      throw new IllegalStateException("already running");
    }
    running = true;
    for (int i = 0; i < config.clients(); i++) {
      int slot = i;
      Thread t = new Thread(() -> runClient(slot), "workload-" + i);
      t.setDaemon(true);
      threads.add(t);
      t.start();
    }
  }

  /**
   * Stops the clients after their current operation and waits for them (at most the operation
   * timeout plus a margin).
   */
  public synchronized void stop() throws InterruptedException {
    running = false;
    for (Thread t : threads) {
      t.join(config.opTimeout().toMillis() + 30_000);
    }
    threads.clear();
  }

  /**
   * The final reads, after the cluster healed: every register, the counter and the set, each
   * retried until OK or {@code timeout}; all recorded.
   *
   * @return whether every final read succeeded
   */
  public boolean finalReads(Duration timeout) throws IOException {
    boolean all = true;
    int process = nextProcess.getAndIncrement();
    KvOperations kv = clients.get();
    try {
      for (String key : finalKeys()) {
        long deadline = System.nanoTime() + timeout.toNanos();
        Outcome o;
        while (true) {
          o = key.equals(SET) ? readSet(kv, process) : read(kv, process, key);
          if (o == Outcome.OK || System.nanoTime() - deadline > 0) {
            break;
          }
          LockSupport.parkNanos(FINAL_RETRY_NANOS);
        }
        all &= o == Outcome.OK;
      }
    } finally {
      kv.close();
    }
    return all;
  }

  private List<String> finalKeys() {
    List<String> keys = new ArrayList<>(registers);
    keys.add(COUNTER);
    keys.add(SET);
    return keys;
  }

  /**
   * Values read that this workload cannot have written (garbage in a register, the counter or a set
   * element's key): each is a bug, whatever the checkers say.
   */
  public List<String> anomalies() {
    return List.copyOf(anomalies);
  }

  /** Operations recorded so far, by type and outcome. */
  public Map<OpType, Map<Outcome, Long>> counts() {
    Map<OpType, Map<Outcome, Long>> out = new EnumMap<>(OpType.class);
    counts.forEach(
        (t, m) -> {
          Map<Outcome, Long> c = new EnumMap<>(Outcome.class);
          m.forEach((o, n) -> c.put(o, n.get()));
          out.put(t, c);
        });
    return out;
  }

  // ---------------------------------------------------------------------------------------------
  // clients
  // ---------------------------------------------------------------------------------------------

  private void runClient(int slot) {
    Random rnd = new Random(seed * 1_000_003L + slot);
    int process = nextProcess.getAndIncrement();
    KvOperations kv = clients.get();
    try {
      while (running) {
        if (step(kv, process, rnd) == Outcome.UNKNOWN) {
          close(kv);
          kv = clients.get();
          process = nextProcess.getAndIncrement();
        }
        long think = config.thinkTime().toNanos();
        if (think > 0) {
          LockSupport.parkNanos((long) (rnd.nextDouble() * 2 * think));
        }
      }
    } finally {
      close(kv);
    }
  }

  private Outcome step(KvOperations kv, int process, Random rnd) {
    String register = registers.get(rnd.nextInt(registers.size()));
    double r = rnd.nextDouble();
    if (r < 0.30) {
      return read(kv, process, register);
    } else if (r < 0.45) {
      return write(kv, process, register, nextValue.getAndIncrement());
    } else if (r < 0.60) {
      long expected = lastSeen.getOrDefault(register, 0L);
      if (rnd.nextInt(4) == 0) {
        expected = rnd.nextInt(3); // sometimes a value that is probably not there
      }
      return cas(kv, process, register, expected, nextValue.getAndIncrement());
    } else if (r < 0.78) {
      return increment(kv, process);
    } else if (r < 0.80) {
      return read(kv, process, COUNTER);
    } else if (r < 0.98) {
      return add(kv, process, nextValue.getAndIncrement());
    } else {
      return readSet(kv, process);
    }
  }

  private Outcome read(KvOperations kv, int process, String key) {
    long t0 = history.invoke();
    Outcome o;
    Long result = null;
    try {
      byte[] v = kv.get(storageKey(key));
      result = v == null ? null : decode(key, v);
      if (result != null && !key.equals(COUNTER)) {
        lastSeen.put(key, result);
      }
      o = Outcome.OK;
    } catch (Malformed e) {
      anomalies.add("read of " + key + ": " + e.getMessage());
      o = Outcome.FAIL;
    } catch (IOException e) {
      o = Outcome.FAIL; // a read changes nothing
    } catch (RuntimeException e) {
      anomalies.add("read of " + key + " threw " + e);
      o = Outcome.FAIL;
    }
    record(Op.read(process, key, o, result, t0, history.complete()));
    return o;
  }

  private Outcome write(KvOperations kv, int process, String key, long value) {
    long t0 = history.invoke();
    Outcome o;
    try {
      kv.put(storageKey(key), encode(value));
      lastSeen.put(key, value);
      o = Outcome.OK;
    } catch (IOException e) {
      o = writeFailure(e);
    } catch (RuntimeException e) {
      anomalies.add("write of " + key + " threw " + e);
      o = Outcome.UNKNOWN;
    }
    record(Op.write(process, key, value, o, t0, history.complete()));
    return o;
  }

  private Outcome cas(KvOperations kv, int process, String key, long expected, long value) {
    long t0 = history.invoke();
    Outcome o;
    Boolean swapped = null;
    try {
      KvClient.CasResult r = kv.compareAndSet(storageKey(key), encode(expected), encode(value));
      swapped = r.success();
      if (r.current() != null) {
        lastSeen.put(key, decode(key, r.current()));
      }
      o = Outcome.OK;
    } catch (Malformed e) {
      anomalies.add("CAS of " + key + ": " + e.getMessage());
      o = Outcome.OK; // it replied, so it was applied; only the value it reported is bad
    } catch (IOException e) {
      o = writeFailure(e);
    } catch (RuntimeException e) {
      anomalies.add("CAS of " + key + " threw " + e);
      o = Outcome.UNKNOWN;
    }
    record(Op.cas(process, key, expected, value, o, swapped, t0, history.complete()));
    return o;
  }

  private Outcome increment(KvOperations kv, int process) {
    long t0 = history.invoke();
    Outcome o;
    Long result = null;
    try {
      result = kv.increment(storageKey(COUNTER), 1);
      o = Outcome.OK;
    } catch (IOException e) {
      o = writeFailure(e);
    } catch (RuntimeException e) {
      anomalies.add("increment" + " threw " + e);
      o = Outcome.UNKNOWN;
    }
    record(Op.increment(process, COUNTER, 1, o, result, t0, history.complete()));
    return o;
  }

  private Outcome add(KvOperations kv, int process, long element) {
    long t0 = history.invoke();
    Outcome o;
    try {
      kv.put(elementKey(element), new byte[0]);
      o = Outcome.OK;
    } catch (IOException e) {
      o = writeFailure(e);
    } catch (RuntimeException e) {
      anomalies.add("add of " + element + " threw " + e);
      o = Outcome.UNKNOWN;
    }
    record(Op.add(process, SET, element, o, t0, history.complete()));
    return o;
  }

  private Outcome readSet(KvOperations kv, int process) {
    long t0 = history.invoke();
    Outcome o;
    Set<Long> elements = null;
    try {
      Set<Long> read = new HashSet<>();
      byte[] from = SET_FROM;
      while (true) {
        Map<byte[], byte[]> page = kv.scan(from, SET_TO, SCAN_PAGE);
        byte[] last = null;
        for (byte[] k : page.keySet()) {
          read.add(parse(new String(k, StandardCharsets.UTF_8).substring(SET_FROM.length)));
          last = k;
        }
        if (page.size() < SCAN_PAGE) {
          break;
        }
        from = Arrays.copyOf(last, last.length + 1); // the next key after the last one
      }
      elements = read;
      o = Outcome.OK;
    } catch (Malformed e) {
      anomalies.add("read of the set: " + e.getMessage());
      o = Outcome.FAIL;
    } catch (IOException e) {
      o = Outcome.FAIL;
    } catch (RuntimeException e) {
      anomalies.add("read of the set threw " + e);
      o = Outcome.FAIL;
    }
    record(Op.readSet(process, SET, o, elements, t0, history.complete()));
    return o;
  }

  /**
   * A write that did not complete: FAIL when the replicas refused it without applying it, UNKNOWN
   * otherwise.
   */
  private static Outcome writeFailure(Exception e) {
    if (e instanceof KvException k && !(e instanceof KvTimeoutException)) {
      ReplyStatus s = k.status();
      if (s == ReplyStatus.SESSION_EXPIRED
          || s == ReplyStatus.STALE_SEQUENCE
          || s == ReplyStatus.TOO_MANY_OUTSTANDING) {
        return Outcome.FAIL;
      }
    }
    return Outcome.UNKNOWN;
  }

  private void record(Op op) {
    history.record(op);
    counts.get(op.type()).get(op.outcome()).incrementAndGet();
  }

  private static void close(KvOperations kv) {
    try {
      kv.close();
    } catch (IOException ignored) {
      // a client that cannot close cleanly is abandoned
    }
  }

  // ---------------------------------------------------------------------------------------------
  // encoding
  // ---------------------------------------------------------------------------------------------

  private static byte[] storageKey(String key) {
    return bytes(key.equals(COUNTER) ? "ctr/" + key : "reg/" + key);
  }

  /**
   * Where the history's key {@code key} is stored: a register's or the counter's key, or for the
   * set the prefix of its elements' keys (a sharded cluster's ranges are split so that each of
   * these lies in one range).
   */
  public static String storedAt(String key) {
    return key.equals(SET) ? "set/" : new String(storageKey(key), StandardCharsets.UTF_8);
  }

  private static byte[] elementKey(long element) {
    return bytes("set/" + element);
  }

  /** Registers hold decimal text (readable in node logs and scans). */
  private static byte[] encode(long value) {
    return bytes(Long.toString(value));
  }

  /** The counter holds the big-endian 64-bit value the store's increment keeps. */
  private static long decode(String key, byte[] v) throws Malformed {
    if (key.equals(COUNTER)) {
      if (v.length != Long.BYTES) {
        throw new Malformed("the counter holds " + v.length + " bytes");
      }
      return ByteBuffer.wrap(v).getLong();
    }
    return parse(new String(v, StandardCharsets.UTF_8));
  }

  private static long parse(String text) throws Malformed {
    try {
      return Long.parseLong(text);
    } catch (NumberFormatException e) {
      throw new Malformed("not a number: '" + text + "'");
    }
  }

  /** A value read that this workload cannot have written. */
  private static final class Malformed extends Exception {
    private static final long serialVersionUID = 1L;

    Malformed(String message) {
      super(message);
    }
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }
}
