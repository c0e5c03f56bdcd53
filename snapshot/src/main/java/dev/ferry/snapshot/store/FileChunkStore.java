package dev.ferry.snapshot.store;

import com.github.luben.zstd.Zstd;
import dev.ferry.snapshot.ChunkId;
import dev.ferry.snapshot.ChunkRef;
import dev.ferry.snapshot.codec.ChunkCodecs;
import dev.ferry.snapshot.codec.CodecException;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The default {@link ChunkStore}: one file per chunk in a directory, written crash-safely.
 *
 * <h2>Layout</h2>
 *
 * <pre>
 * dir/LOCK                      held (OS file lock) while open: one process per store
 * dir/chunks/ab/abcdef...       a chunk's stored form, named by its id's 64 hex digits and
 *                               fanned out by the first byte; nothing else chooses a path
 * dir/tmp/                      temp files being written; emptied at open
 * dir/quarantine/&lt;hex&gt;.&lt;n&gt;      chunks that failed verification, kept for inspection
 * dir/refs/&lt;key&gt;.refs           the chunk set retained under a manifest key
 * dir/pins/&lt;leaseId&gt;.pin        a live (or not yet collected) lease and the chunk set it pins
 * </pre>
 *
 * <h2>Invariants</h2>
 *
 * <ul>
 *   <li>A chunk file, a refs file or a pin file is only ever created by writing a temp file in
 *       {@code tmp/}, forcing it, renaming it into place atomically and forcing the target
 *       directory; so after a crash each is either absent or whole. {@link #put} returns only after
 *       that, so an acknowledged chunk survives a crash (of the process, and of the machine unless
 *       {@link Options#fsync()} is off).
 *   <li>The in-memory index holds exactly the chunk files present (loaded at open; changed only
 *       together with the file, under the chunk's stripe lock), so {@link #contains} does no I/O.
 *       An index entry object is never reused: its identity tells a reader whether the file it read
 *       is still the one indexed.
 *   <li>Reads verify (decode within the declared size, SHA-256 equals the id); a file that fails is
 *       moved to {@code quarantine/}, dropped from the index, counted and reported to the {@link
 *       QuarantineListener}; it can then be stored again.
 *   <li>Chunk files are never overwritten while indexed; a chunk is deleted only by garbage
 *       collection or quarantine, both under its stripe lock and only if the index entry is the one
 *       they examined.
 * </ul>
 *
 * <h2>Concurrency</h2>
 *
 * Puts and reads run in parallel on any threads. Encoding and writing the temp file happen outside
 * any lock; the rename, directory force and index update of one chunk happen under one of 256
 * stripe locks chosen by its id, so concurrent puts of one chunk store it once. Retain, release,
 * pin, renew, unpin and garbage collection serialize on one monitor (they are rare); a collection
 * takes each candidate's stripe lock, so it never races a writer's put or adopt of that chunk.
 * Deletions by collection are not forced to disk: a crash may bring a deleted chunk back, and the
 * next collection deletes it again.
 */
public final class FileChunkStore implements ChunkStore {
  private static final Logger LOG = LoggerFactory.getLogger(FileChunkStore.class);

  private static final int STRIPES = 256;
  private static final Pattern HEX_ID = Pattern.compile("[0-9a-f]{64}");
  private static final Pattern FAN_OUT = Pattern.compile("[0-9a-f]{2}");
  private static final Pattern PIN_FILE = Pattern.compile("([0-9a-f]{16})\\.pin");
  private static final String REFS_SUFFIX = ".refs";
  private static final int READ_ATTEMPTS = 3;

  /**
   * How a store behaves.
   *
   * @param zstdLevel the zstd level {@link #put} encodes with ({@link ChunkCodecs#encode} falls
   *     back to raw when compression does not pay), or {@code Integer.MIN_VALUE} to store raw
   *     always
   * @param fsync force files and directories to disk; turn off only in tests and benchmarks (a
   *     process crash still loses nothing, a power loss may)
   * @param clock the time source for leases
   * @param quarantineListener told about every quarantined chunk
   */
  public record Options(
      int zstdLevel, boolean fsync, InstantSource clock, QuarantineListener quarantineListener) {
    public Options {
      if (zstdLevel != Integer.MIN_VALUE
          && (zstdLevel < Zstd.minCompressionLevel() || zstdLevel > Zstd.maxCompressionLevel())) {
        throw new IllegalArgumentException(
            "zstd level out of range ("
                + Zstd.minCompressionLevel()
                + ".."
                + Zstd.maxCompressionLevel()
                + "): "
                + zstdLevel);
      }
      Objects.requireNonNull(clock, "clock");
      Objects.requireNonNull(quarantineListener, "quarantineListener");
    }

    /** Level {@link ChunkCodecs#DEFAULT_LEVEL}, fsync on, the system clock, no listener. */
    public static Options defaults() {
      return new Options(
          ChunkCodecs.DEFAULT_LEVEL, true, Clock.systemUTC(), QuarantineListener.NONE);
    }

    public Options withZstdLevel(int level) {
      return new Options(level, fsync, clock, quarantineListener);
    }

    public Options withFsync(boolean on) {
      return new Options(zstdLevel, on, clock, quarantineListener);
    }

    public Options withClock(InstantSource source) {
      return new Options(zstdLevel, fsync, source, quarantineListener);
    }

    public Options withQuarantineListener(QuarantineListener listener) {
      return new Options(zstdLevel, fsync, clock, listener);
    }
  }

  /** One indexed chunk file. Compared by identity: a new file gets a new entry. */
  private static final class Entry {
    final int size;

    Entry(int size) {
      this.size = size;
    }
  }

  private final Path dir;
  private final Path chunksDir;
  private final Path quarantineDir;
  private final Path refsDir;
  private final Path pinsDir;
  private final Options options;
  private final FileChannel lockChannel;
  private final FileLock lock;
  private final AtomicFileWriter files;

  private final ConcurrentHashMap<ChunkId, Entry> index = new ConcurrentHashMap<>();
  private final ReentrantLock[] stripes = new ReentrantLock[STRIPES];
  private final AtomicLong storedBytes = new AtomicLong();
  private final AtomicLong quarantined = new AtomicLong();
  private final AtomicLong quarantineSeq = new AtomicLong();

  /** Chunk id to the number of open writers protecting it. */
  private final ConcurrentHashMap<ChunkId, Integer> writerProtected = new ConcurrentHashMap<>();

  private final Object refsLock = new Object();
  // Guarded by refsLock:
  private final Map<String, Set<ChunkId>> retained = new HashMap<>();

  /** Written under {@code refsLock}; concurrent so that {@link #stats} reads it without it. */
  private final Map<Long, ReferenceFileCodec.Pin> pins = new ConcurrentHashMap<>();

  private long nextLeaseId = 1;

  private volatile boolean closed;

  private FileChunkStore(Path dir, Options options, FileChannel lockChannel, FileLock lock) {
    this.dir = dir;
    this.chunksDir = dir.resolve("chunks");
    this.quarantineDir = dir.resolve("quarantine");
    this.refsDir = dir.resolve("refs");
    this.pinsDir = dir.resolve("pins");
    this.options = options;
    this.lockChannel = lockChannel;
    this.lock = lock;
    this.files = new AtomicFileWriter(dir.resolve("tmp"), options.fsync());
    for (int i = 0; i < STRIPES; i++) {
      stripes[i] = new ReentrantLock();
    }
  }

  /** Opens (creating if needed) the store in {@code dir} with {@link Options#defaults()}. */
  public static FileChunkStore open(Path dir) throws IOException {
    return open(dir, Options.defaults());
  }

  /**
   * Opens (creating if needed) the store in {@code dir}: takes its lock, deletes leftover temp
   * files, indexes the chunk files and loads the retained references and pins. Blocks on I/O
   * proportional to the number of chunks (one directory entry and one size lookup each; chunk
   * contents are not read).
   *
   * @throws IOException if the directory cannot be used, another process or another open store in
   *     this JVM holds it, or a refs or pin file is corrupt (refusing to open is safer than
   *     forgetting references and collecting chunks a manifest needs)
   */
  public static FileChunkStore open(Path dir, Options options) throws IOException {
    Objects.requireNonNull(dir, "dir");
    Objects.requireNonNull(options, "options");
    Path root = dir.toAbsolutePath().normalize();
    createDirectoryDurably(root, options.fsync());
    FileChannel lockChannel =
        FileChannel.open(root.resolve("LOCK"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
    FileLock lock;
    try {
      lock = lockChannel.tryLock();
    } catch (OverlappingFileLockException e) {
      lockChannel.close();
      throw new IOException("chunk store " + root + " is already open in this JVM", e);
    } catch (IOException | RuntimeException e) {
      lockChannel.close();
      throw e;
    }
    if (lock == null) {
      lockChannel.close();
      throw new IOException("chunk store " + root + " is in use by another process");
    }
    FileChunkStore store = new FileChunkStore(root, options, lockChannel, lock);
    try {
      store.load();
    } catch (IOException | RuntimeException e) {
      store.close();
      throw e;
    }
    return store;
  }

  /** The store's directory. */
  public Path directory() {
    return dir;
  }

  // ---------------------------------------------------------------------------------------------
  // Chunks

  @Override
  public boolean contains(ChunkId id) {
    return index.containsKey(id);
  }

  @Override
  public Set<ChunkId> ids() {
    return Set.copyOf(index.keySet());
  }

  @Override
  public ChunkRef put(byte[] raw, int offset, int length) throws IOException {
    return put(raw, offset, length, null);
  }

  @Override
  public void putStored(ChunkRef ref, ByteBuffer stored) throws IOException {
    putStored(ref, stored, null);
  }

  private ChunkRef put(byte[] raw, int offset, int length, Writer writer) throws IOException {
    checkOpen();
    Objects.requireNonNull(raw, "raw");
    Objects.checkFromIndexSize(offset, length, raw.length);
    if (length <= 0 || length > ChunkRef.MAX_CHUNK_SIZE) {
      throw new IllegalArgumentException(
          "chunk length out of range (1.." + ChunkRef.MAX_CHUNK_SIZE + "): " + length);
    }
    ChunkId id = ChunkId.of(raw, offset, length);
    Entry held = held(id, writer);
    if (held == null) {
      byte[] stored = ChunkCodecs.encode(raw, offset, length, options.zstdLevel());
      held = install(id, ByteBuffer.wrap(stored), writer);
    }
    return new ChunkRef(id, length, held.size);
  }

  private void putStored(ChunkRef ref, ByteBuffer stored, Writer writer) throws IOException {
    putStored(ref, stored, writer, true);
  }

  private void putStored(ChunkRef ref, ByteBuffer stored, Writer writer, boolean verify)
      throws IOException {
    checkOpen();
    Objects.requireNonNull(ref, "ref");
    Objects.requireNonNull(stored, "stored");
    ChunkId id = ref.id();
    int size = stored.remaining();
    if (size <= 0 || size > ChunkRef.MAX_STORED_SIZE) {
      throw new ChunkCorruptException(id, "stored size out of range: " + size);
    }
    if (verify) {
      byte[] raw;
      try {
        raw = ChunkCodecs.decode(stored, ref.rawSize());
      } catch (CodecException e) {
        throw new ChunkCorruptException(id, e.getMessage(), e);
      }
      if (!id.matches(raw, 0, raw.length)) {
        throw new ChunkCorruptException(id, "SHA-256 of the decoded bytes differs from the id");
      }
    }
    if (held(id, writer) == null) {
      install(id, stored, writer);
    }
  }

  /**
   * The entry of a held chunk, or null. With a writer, first protects the chunk, then looks under
   * its stripe lock, so a collection either sees the protection or has already removed the chunk.
   */
  private Entry held(ChunkId id, Writer writer) {
    if (writer == null) {
      return index.get(id);
    }
    writer.protect(id);
    ReentrantLock stripe = stripe(id);
    stripe.lock();
    try {
      return index.get(id);
    } finally {
      stripe.unlock();
    }
  }

  /**
   * Makes {@code stored} the chunk's file, unless a concurrent put got there first. Through a
   * batching writer the file is not forced here but recorded for the writer's {@link
   * ChunkWriter#sync}.
   */
  private Entry install(ChunkId id, ByteBuffer stored, Writer writer) throws IOException {
    boolean force = writer == null || !writer.batched;
    Path temp = files.writeTemp(id.toHex(), stored, force);
    ReentrantLock stripe = stripe(id);
    stripe.lock();
    try {
      Entry existing = index.get(id);
      if (existing != null) {
        Files.deleteIfExists(temp);
        return existing;
      }
      files.moveIntoPlace(temp, chunkPath(id), force);
      if (!force) {
        writer.unsynced(chunkPath(id));
      }
      Entry entry = new Entry(stored.remaining());
      index.put(id, entry);
      storedBytes.addAndGet(entry.size);
      return entry;
    } catch (IOException | RuntimeException e) {
      AtomicFileWriter.deleteQuietly(temp, e);
      throw e;
    } finally {
      stripe.unlock();
    }
  }

  @Override
  public byte[] read(ChunkId id) throws IOException {
    checkOpen();
    Objects.requireNonNull(id, "id");
    for (int attempt = 1; ; attempt++) {
      Entry entry = indexed(id);
      ByteBuffer stored = readFile(id, entry);
      String problem;
      try {
        byte[] raw = ChunkCodecs.decode(stored, ChunkCodecs.rawSizeOf(stored));
        if (id.matches(raw, 0, raw.length)) {
          return raw;
        }
        problem = "SHA-256 of the decoded bytes differs from the id";
      } catch (CodecException e) {
        problem = e.getMessage();
      }
      if (quarantine(id, entry, problem) || attempt == READ_ATTEMPTS) {
        throw new ChunkCorruptException(id, problem);
      }
      // The file was replaced while we read it (collected or quarantined, then put again): retry.
    }
  }

  @Override
  public byte[] readUnhashed(ChunkId id) throws IOException {
    checkOpen();
    Objects.requireNonNull(id, "id");
    for (int attempt = 1; ; attempt++) {
      Entry entry = indexed(id);
      ByteBuffer stored = readFile(id, entry);
      String problem;
      try {
        return ChunkCodecs.decode(stored, ChunkCodecs.rawSizeOf(stored));
      } catch (CodecException e) {
        problem = e.getMessage();
      }
      if (quarantine(id, entry, problem) || attempt == READ_ATTEMPTS) {
        throw new ChunkCorruptException(id, problem);
      }
    }
  }

  @Override
  public ByteBuffer readStored(ChunkId id) throws IOException {
    checkOpen();
    Objects.requireNonNull(id, "id");
    return readFile(id, indexed(id));
  }

  /**
   * Opens a chunk's file for zero-copy shipping, without reading or verifying it.
   *
   * @throws NoSuchFileException if the chunk is not held
   * @throws ChunkCorruptException if its size is impossible (it is quarantined first)
   */
  public StoredChunkFile openStored(ChunkId id) throws IOException {
    checkOpen();
    Objects.requireNonNull(id, "id");
    Entry entry = indexed(id);
    FileChannel ch = openChunk(id, entry);
    try {
      long size = ch.size();
      checkStoredSize(id, entry, size);
      return new StoredChunkFile(id, ch, size);
    } catch (IOException | RuntimeException e) {
      ch.close();
      throw e;
    }
  }

  private Entry indexed(ChunkId id) throws NoSuchFileException {
    Entry entry = index.get(id);
    if (entry == null) {
      throw new NoSuchFileException(chunkPath(id).toString(), null, "chunk not held");
    }
    return entry;
  }

  /** Reads a chunk file whole, checking its size; the buffer is positioned at 0. */
  private ByteBuffer readFile(ChunkId id, Entry entry) throws IOException {
    try (FileChannel ch = openChunk(id, entry)) {
      long size = ch.size();
      checkStoredSize(id, entry, size);
      ByteBuffer buf = ByteBuffer.allocate((int) size);
      while (buf.hasRemaining()) {
        if (ch.read(buf) < 0) {
          break;
        }
      }
      if (buf.hasRemaining()) {
        String why = "file shrank to " + buf.position() + " bytes while read";
        quarantine(id, entry, why);
        throw new ChunkCorruptException(id, why, new EOFException());
      }
      return buf.flip();
    }
  }

  private FileChannel openChunk(ChunkId id, Entry entry) throws IOException {
    Path path = chunkPath(id);
    try {
      return FileChannel.open(path, StandardOpenOption.READ);
    } catch (NoSuchFileException e) {
      // Either a collection or quarantine removed it just now (then the index no longer holds
      // this entry), or something outside the store deleted it: then forget it too.
      ReentrantLock stripe = stripe(id);
      stripe.lock();
      try {
        if (index.remove(id, entry)) {
          storedBytes.addAndGet(-entry.size);
          LOG.warn("chunk file {} vanished from the store; forgetting chunk {}", path, id);
        }
      } finally {
        stripe.unlock();
      }
      throw e;
    }
  }

  private void checkStoredSize(ChunkId id, Entry entry, long size) throws ChunkCorruptException {
    if (size <= 0 || size > ChunkRef.MAX_STORED_SIZE) {
      String why = "stored size out of range: " + size;
      quarantine(id, entry, why);
      throw new ChunkCorruptException(id, why);
    }
  }

  /**
   * Moves a chunk's file to {@code quarantine/} and forgets it, if {@code entry} is still the one
   * indexed (otherwise the file was already replaced, and nothing happens).
   *
   * @return whether this call quarantined the chunk
   */
  private boolean quarantine(ChunkId id, Entry entry, String reason) {
    Path path = chunkPath(id);
    Path target = quarantineDir.resolve(id.toHex() + "." + quarantineSeq.incrementAndGet());
    ReentrantLock stripe = stripe(id);
    stripe.lock();
    try {
      if (!index.remove(id, entry)) {
        return false;
      }
      storedBytes.addAndGet(-entry.size);
      try {
        Files.move(path, uniqueQuarantineName(target), StandardCopyOption.ATOMIC_MOVE);
      } catch (NoSuchFileException e) {
        // Already gone: nothing to keep.
      } catch (IOException e) {
        LOG.warn("cannot move corrupt chunk {} to quarantine; deleting it", path, e);
        try {
          Files.deleteIfExists(path);
        } catch (IOException e2) {
          // A later put of this chunk renames a good copy over it.
          LOG.warn("cannot delete corrupt chunk {}", path, e2);
        }
      }
    } finally {
      stripe.unlock();
    }
    quarantined.incrementAndGet();
    LOG.warn("chunk {} failed verification and was quarantined: {}", id.toHex(), reason);
    try {
      options.quarantineListener().quarantined(id, reason);
    } catch (RuntimeException e) {
      LOG.warn("quarantine listener failed for chunk {}", id, e);
    }
    return true;
  }

  private static Path uniqueQuarantineName(Path target) {
    Path candidate = target;
    for (int i = 1; Files.exists(candidate); i++) {
      candidate = target.resolveSibling(target.getFileName() + "-" + i);
    }
    return candidate;
  }

  @Override
  public StoreStats stats() {
    Instant now = options.clock().instant();
    long live = 0;
    // Weakly consistent without the references lock: a scrape never waits for a collection.
    for (ReferenceFileCodec.Pin p : pins.values()) {
      if (now.isBefore(p.expiresAt())) {
        live++;
      }
    }
    return new StoreStats(index.size(), storedBytes.get(), quarantined.get(), live);
  }

  // ---------------------------------------------------------------------------------------------
  // References, pins, collection

  @Override
  public ChunkWriter openWriter() {
    checkOpen();
    return new Writer(false);
  }

  @Override
  public ChunkWriter openBatchWriter() {
    checkOpen();
    return new Writer(true);
  }

  @Override
  public void retain(String key, Collection<ChunkId> chunks) throws IOException {
    checkOpen();
    checkKey(key);
    Set<ChunkId> ids = Set.copyOf(chunks);
    ByteBuffer bytes = ReferenceFileCodec.encodeRefs(key, ids);
    synchronized (refsLock) {
      files.write(refsDir.resolve(key + REFS_SUFFIX), bytes);
      retained.put(key, ids);
    }
  }

  @Override
  public void release(String key) throws IOException {
    checkOpen();
    checkKey(key);
    synchronized (refsLock) {
      if (retained.containsKey(key)) {
        files.delete(refsDir.resolve(key + REFS_SUFFIX));
        retained.remove(key);
      }
    }
  }

  @Override
  public Set<String> retainedKeys() {
    synchronized (refsLock) {
      return Set.copyOf(retained.keySet());
    }
  }

  @Override
  public Lease pin(String key, Duration ttl) throws IOException {
    checkOpen();
    checkKey(key);
    checkTtl(ttl);
    synchronized (refsLock) {
      Set<ChunkId> ids = retained.get(key);
      if (ids == null) {
        throw new IllegalStateException("nothing retained under key '" + key + "'");
      }
      long leaseId = nextLeaseId++;
      Instant expiresAt = options.clock().instant().plus(ttl);
      return writePin(new ReferenceFileCodec.Pin(leaseId, key, expiresAt, ids));
    }
  }

  @Override
  public Lease renew(long leaseId, Duration ttl) throws IOException {
    checkOpen();
    checkTtl(ttl);
    synchronized (refsLock) {
      ReferenceFileCodec.Pin pin = pins.get(leaseId);
      if (pin == null) {
        throw new LeaseExpiredException(leaseId, "unknown or released");
      }
      Instant now = options.clock().instant();
      if (!now.isBefore(pin.expiresAt())) {
        throw new LeaseExpiredException(leaseId, "expired at " + pin.expiresAt());
      }
      return writePin(new ReferenceFileCodec.Pin(leaseId, pin.key(), now.plus(ttl), pin.ids()));
    }
  }

  private Lease writePin(ReferenceFileCodec.Pin pin) throws IOException {
    files.write(pinPath(pin.leaseId()), ReferenceFileCodec.encodePin(pin));
    pins.put(pin.leaseId(), pin);
    return pin.lease();
  }

  @Override
  public void unpin(long leaseId) throws IOException {
    checkOpen();
    synchronized (refsLock) {
      if (pins.containsKey(leaseId)) {
        files.delete(pinPath(leaseId));
        pins.remove(leaseId);
      }
    }
  }

  /** The leases not yet released or collected (expired ones included until the next collection). */
  public List<Lease> leases() {
    synchronized (refsLock) {
      List<Lease> out = new ArrayList<>();
      for (ReferenceFileCodec.Pin p : pins.values()) {
        out.add(p.lease());
      }
      return out;
    }
  }

  @Override
  public GcResult collectGarbage() throws IOException {
    checkOpen();
    synchronized (refsLock) {
      Instant now = options.clock().instant();
      int expired = 0;
      for (Iterator<ReferenceFileCodec.Pin> it = pins.values().iterator(); it.hasNext(); ) {
        ReferenceFileCodec.Pin pin = it.next();
        if (!now.isBefore(pin.expiresAt())) {
          files.delete(pinPath(pin.leaseId()));
          it.remove();
          expired++;
        }
      }
      Set<ChunkId> live = new HashSet<>();
      for (Set<ChunkId> ids : retained.values()) {
        live.addAll(ids);
      }
      for (ReferenceFileCodec.Pin pin : pins.values()) {
        live.addAll(pin.ids());
      }
      int deleted = 0;
      long freed = 0;
      for (ChunkId id : index.keySet()) {
        if (live.contains(id)) {
          continue;
        }
        ReentrantLock stripe = stripe(id);
        stripe.lock();
        try {
          Entry entry = index.get(id);
          if (entry == null || writerProtected.containsKey(id)) {
            continue;
          }
          Files.deleteIfExists(chunkPath(id));
          index.remove(id, entry);
          storedBytes.addAndGet(-entry.size);
          deleted++;
          freed += entry.size;
        } finally {
          stripe.unlock();
        }
      }
      GcResult result = new GcResult(deleted, freed, index.size(), expired);
      LOG.debug("garbage collection in {}: {}", dir, result);
      return result;
    }
  }

  /** Marks the store closed and releases its directory lock; idempotent. */
  @Override
  public void close() throws IOException {
    if (closed) {
      return;
    }
    closed = true;
    try {
      if (lock.isValid()) {
        lock.release();
      }
    } finally {
      lockChannel.close();
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Writers

  /** Protects the chunks it touches; see {@link ChunkWriter}. */
  private final class Writer implements ChunkWriter {
    final boolean batched;
    // Guarded by this.
    private final Set<ChunkId> protectedIds = new HashSet<>();
    private final List<Path> unsynced = new ArrayList<>();
    private boolean writerClosed;

    Writer(boolean batched) {
      this.batched = batched;
    }

    synchronized void unsynced(Path file) {
      unsynced.add(file);
    }

    @Override
    public void sync() throws IOException {
      List<Path> pending;
      synchronized (this) {
        pending = new ArrayList<>(unsynced);
        unsynced.clear();
      }
      if (pending.isEmpty()) {
        return;
      }
      // Concurrent fsyncs let the file system commit them together (one journal commit for many).
      Set<Path> dirs = new HashSet<>();
      for (Path p : pending) {
        dirs.add(p.getParent());
      }
      try {
        java.util.concurrent.ForkJoinPool pool = new java.util.concurrent.ForkJoinPool(8);
        try {
          pool.submit(
                  () ->
                      pending.parallelStream()
                          .forEach(
                              p -> {
                                try {
                                  files.forceFile(p);
                                } catch (java.nio.file.NoSuchFileException gone) {
                                  // collected or quarantined meanwhile: nothing to make durable
                                } catch (IOException e) {
                                  throw new java.io.UncheckedIOException(e);
                                }
                              }))
              .get();
          pool.submit(
                  () ->
                      dirs.parallelStream()
                          .forEach(
                              d -> {
                                try {
                                  files.forceDirectory(d);
                                } catch (IOException e) {
                                  throw new java.io.UncheckedIOException(e);
                                }
                              }))
              .get();
        } finally {
          pool.shutdown();
        }
      } catch (java.util.concurrent.ExecutionException e) {
        synchronized (this) {
          unsynced.addAll(pending);
        }
        Throwable c = e.getCause();
        throw c instanceof java.io.UncheckedIOException u
            ? u.getCause()
            : new IOException("syncing chunk files failed", c);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        synchronized (this) {
          unsynced.addAll(pending);
        }
        throw new java.io.InterruptedIOException("interrupted while syncing chunk files");
      }
    }

    synchronized void protect(ChunkId id) {
      if (writerClosed) {
        throw new IllegalStateException("chunk writer is closed");
      }
      if (protectedIds.add(id)) {
        writerProtected.merge(id, 1, Integer::sum);
      }
    }

    @Override
    public ChunkRef put(byte[] raw, int offset, int length) throws IOException {
      return FileChunkStore.this.put(raw, offset, length, this);
    }

    @Override
    public void putStored(ChunkRef ref, ByteBuffer stored) throws IOException {
      FileChunkStore.this.putStored(ref, stored, this);
    }

    @Override
    public void putVerified(ChunkRef ref, ByteBuffer stored) throws IOException {
      FileChunkStore.this.putStored(ref, stored, this, false);
    }

    @Override
    public boolean adopt(ChunkId id) {
      checkOpen();
      Objects.requireNonNull(id, "id");
      return held(id, this) != null;
    }

    @Override
    public void commit(String key, Collection<ChunkId> chunks) throws IOException {
      synchronized (this) {
        if (writerClosed) {
          throw new IllegalStateException("chunk writer is closed");
        }
      }
      sync();
      retain(key, chunks);
      close();
    }

    @Override
    public synchronized void close() {
      if (writerClosed) {
        return;
      }
      writerClosed = true;
      for (ChunkId id : protectedIds) {
        writerProtected.computeIfPresent(id, (k, n) -> n == 1 ? null : n - 1);
      }
      protectedIds.clear();
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Opening

  private void load() throws IOException {
    for (Path d : List.of(chunksDir, files.tempDir(), quarantineDir, refsDir, pinsDir)) {
      createDirectoryDurably(d, options.fsync());
    }
    boolean created = false;
    for (int b = 0; b < 256; b++) {
      Path fan = chunksDir.resolve(String.format(Locale.ROOT, "%02x", b));
      if (!Files.isDirectory(fan)) {
        Files.createDirectories(fan);
        created = true;
      }
    }
    if (created) {
      files.forceDirectory(chunksDir);
    }
    int temps = deleteAll(files.tempDir());
    if (temps > 0) {
      LOG.info("deleted {} leftover temp files in {}", temps, files.tempDir());
    }
    indexChunks();
    loadRefs();
    loadPins();
    LOG.debug(
        "opened chunk store {}: {} chunks, {} bytes, {} retained keys, {} pins",
        dir,
        index.size(),
        storedBytes.get(),
        retained.size(),
        pins.size());
  }

  private void indexChunks() throws IOException {
    try (DirectoryStream<Path> fans = Files.newDirectoryStream(chunksDir)) {
      for (Path fan : fans) {
        String fanName = fan.getFileName().toString();
        if (!FAN_OUT.matcher(fanName).matches() || !Files.isDirectory(fan)) {
          LOG.warn("ignoring unexpected entry {} in the chunk store", fan);
          continue;
        }
        try (DirectoryStream<Path> chunkFiles = Files.newDirectoryStream(fan)) {
          for (Path file : chunkFiles) {
            indexChunk(fanName, file);
          }
        }
      }
    }
  }

  private void indexChunk(String fanName, Path file) throws IOException {
    String name = file.getFileName().toString();
    if (name.endsWith(".tmp")) {
      Files.deleteIfExists(file);
      LOG.info("deleted leftover temp file {}", file);
      return;
    }
    if (!HEX_ID.matcher(name).matches() || !name.startsWith(fanName)) {
      LOG.warn("ignoring unexpected file {} in the chunk store", file);
      return;
    }
    ChunkId id = ChunkId.fromHex(name);
    long size = Files.size(file);
    Entry entry = new Entry((int) Math.min(size, Integer.MAX_VALUE));
    index.put(id, entry);
    storedBytes.addAndGet(entry.size);
    if (size <= 0 || size > ChunkRef.MAX_STORED_SIZE) {
      quarantine(id, entry, "stored size out of range: " + size);
    }
  }

  private void loadRefs() throws IOException {
    try (DirectoryStream<Path> refFiles = Files.newDirectoryStream(refsDir)) {
      for (Path file : refFiles) {
        String name = file.getFileName().toString();
        String key =
            name.endsWith(REFS_SUFFIX)
                ? name.substring(0, name.length() - REFS_SUFFIX.length())
                : "";
        if (!KEY_PATTERN.matcher(key).matches()) {
          throw new IOException("unexpected file in the refs directory: " + file);
        }
        retained.put(key, ReferenceFileCodec.decodeRefs(file, key));
      }
    }
  }

  private void loadPins() throws IOException {
    try (DirectoryStream<Path> pinFiles = Files.newDirectoryStream(pinsDir)) {
      for (Path file : pinFiles) {
        var m = PIN_FILE.matcher(file.getFileName().toString());
        if (!m.matches()) {
          throw new IOException("unexpected file in the pins directory: " + file);
        }
        long leaseId = Long.parseUnsignedLong(m.group(1), 16);
        ReferenceFileCodec.Pin pin = ReferenceFileCodec.decodePin(file, leaseId);
        if (!KEY_PATTERN.matcher(pin.key()).matches()) {
          throw new IOException("pin file " + file + " names a bad key '" + pin.key() + "'");
        }
        pins.put(leaseId, pin);
        nextLeaseId = Math.max(nextLeaseId, leaseId + 1);
      }
    }
  }

  private int deleteAll(Path directory) throws IOException {
    int n = 0;
    try (DirectoryStream<Path> entries = Files.newDirectoryStream(directory)) {
      for (Path p : entries) {
        Files.deleteIfExists(p);
        n++;
      }
    }
    return n;
  }

  private static void createDirectoryDurably(Path d, boolean fsync) throws IOException {
    if (Files.isDirectory(d)) {
      return;
    }
    Files.createDirectories(d);
    if (fsync && d.getParent() != null) {
      try (FileChannel ch = FileChannel.open(d.getParent(), StandardOpenOption.READ)) {
        ch.force(true);
      }
    }
  }

  // ---------------------------------------------------------------------------------------------

  private Path chunkPath(ChunkId id) {
    String hex = id.toHex();
    return chunksDir.resolve(hex.substring(0, 2)).resolve(hex);
  }

  private Path pinPath(long leaseId) {
    return pinsDir.resolve(String.format(Locale.ROOT, "%016x.pin", leaseId));
  }

  private ReentrantLock stripe(ChunkId id) {
    return stripes[Math.floorMod(id.hashCode(), STRIPES)];
  }

  private void checkOpen() {
    if (closed) {
      throw new IllegalStateException("chunk store " + dir + " is closed");
    }
  }

  private static void checkKey(String key) {
    Objects.requireNonNull(key, "key");
    if (!KEY_PATTERN.matcher(key).matches()) {
      throw new IllegalArgumentException(
          "bad manifest key (want " + KEY_PATTERN.pattern() + "): '" + key + "'");
    }
  }

  private static void checkTtl(Duration ttl) {
    Objects.requireNonNull(ttl, "ttl");
    if (ttl.isNegative() || ttl.isZero()) {
      throw new IllegalArgumentException("lease ttl must be positive: " + ttl);
    }
  }

  @Override
  public String toString() {
    return "FileChunkStore[" + dir + "]";
  }
}
