package dev.ferry.shipping.chunks;

import static dev.ferry.shipping.chunks.ChunkServer.LOG;

import dev.ferry.shipping.chunks.Message.CorruptReport;
import dev.ferry.shipping.chunks.Message.Error;
import dev.ferry.shipping.chunks.Message.GetManifest;
import dev.ferry.shipping.chunks.Message.LeaseGranted;
import dev.ferry.shipping.chunks.Message.ListManifests;
import dev.ferry.shipping.chunks.Message.ManifestBytes;
import dev.ferry.shipping.chunks.Message.ManifestList;
import dev.ferry.shipping.chunks.Message.Ok;
import dev.ferry.shipping.chunks.Message.Pin;
import dev.ferry.shipping.chunks.Message.Renew;
import dev.ferry.shipping.chunks.Message.Unpin;
import dev.ferry.shipping.net.LogLimiter;
import dev.ferry.snapshot.ChunkId;
import dev.ferry.snapshot.format.Manifest;
import dev.ferry.snapshot.format.ManifestCodec;
import dev.ferry.snapshot.store.ChunkStore;
import dev.ferry.snapshot.store.Lease;
import dev.ferry.snapshot.store.LeaseExpiredException;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * One {@link SnapshotSource} as a {@link ChunkServer} serves it — the builder's source for
 * connections that name no group, or one group's ({@link ChunkServer#serveChunks}) — with the
 * leases granted from its store and a cache of its manifests' summaries. Pins and leases are
 * therefore per source: a lease granted from one group's store can be renewed or ended only through
 * a connection of that group.
 *
 * <p>Concurrency: thread-safe; the control requests of many connections call it at once from the
 * server's worker threads, and each may block on storage.
 */
final class ServedSource {
  private static final int INFO_CACHE_ENTRIES = 256;
  private static final int MAX_TRACKED_LEASES = 4096;

  private final ChunkServer server;
  final SnapshotSource source;

  /** Leases granted from this source's store, to their last known expiry. */
  private final Map<Long, Instant> granted = new ConcurrentHashMap<>();

  private final Map<Long, ManifestInfo> infoCache =
      new LinkedHashMap<>(16, 0.75f, true) {
        private static final long serialVersionUID = 1L;

        @Override
        protected boolean removeEldestEntry(Map.Entry<Long, ManifestInfo> eldest) {
          return size() > INFO_CACHE_ENTRIES;
        }
      };

  ServedSource(ChunkServer server, SnapshotSource source) {
    this.server = server;
    this.source = source;
  }

  /** The chunk store requests are served from; may throw while the node is not ready. */
  ChunkStore store() {
    return source.store();
  }

  /**
   * A peer says chunks it got from here failed verification. The claim is not trusted: each chunk
   * still held is re-read and re-hashed, and only one whose bytes here fail is quarantined (the
   * store's quarantine listener then fetches it again from the other peers). A lying peer can cost
   * at most {@value MessageCodec#MAX_REPORT_IDS} chunk reads per request, no more than fetching
   * them; it cannot make the server drop a good chunk.
   */
  Message corruptReport(CorruptReport c, String peer) throws IOException {
    ChunkStore store = source.store();
    List<String> confirmed = new ArrayList<>();
    int intact = 0;
    int notHeld = 0;
    for (ChunkId id : new LinkedHashSet<>(c.ids())) {
      if (!store.contains(id)) {
        notHeld++;
      } else if (store.verify(id)) {
        intact++;
      } else {
        confirmed.add(id.toHex());
      }
    }
    server.countCorruptReport(c.ids().size(), confirmed.size());
    long skipped = server.logLimit.admit();
    if (skipped >= 0) {
      LOG.warn(
          "chunk server {}: {} reported {} chunk(s) it got from here corrupt; re-verified here: {}"
              + " corrupt (quarantined, to be fetched again from the peers) {}, {} intact, {} no"
              + " longer held{}",
          server.nodeId,
          peer,
          c.ids().size(),
          confirmed.size(),
          confirmed,
          intact,
          notHeld,
          LogLimiter.note(skipped));
    }
    return new Ok(c.requestId());
  }

  Message list(ListManifests l) {
    List<Manifest> chosen = new ArrayList<>();
    for (Manifest m : source.manifests()) {
      if (m.index() >= l.minIndex()) {
        chosen.add(m);
      }
    }
    chosen.sort(Comparator.comparingLong(Manifest::index));
    if (chosen.size() > MessageCodec.MAX_LIST_ENTRIES) {
      chosen = chosen.subList(chosen.size() - MessageCodec.MAX_LIST_ENTRIES, chosen.size());
    }
    List<ManifestInfo> entries = new ArrayList<>(chosen.size());
    for (Manifest m : chosen) {
      entries.add(info(m));
    }
    return new ManifestList(l.requestId(), entries);
  }

  private ManifestInfo info(Manifest m) {
    synchronized (infoCache) {
      ManifestInfo cached = infoCache.get(m.index());
      if (cached != null && cached.term() == m.term()) {
        return cached;
      }
    }
    ManifestInfo info = ManifestInfo.of(m);
    synchronized (infoCache) {
      infoCache.put(m.index(), info);
    }
    return info;
  }

  private Manifest find(long index) {
    for (Manifest m : source.manifests()) {
      if (m.index() == index) {
        return m;
      }
    }
    return null;
  }

  Message get(GetManifest g) {
    Manifest m = find(g.index());
    if (m == null) {
      return new Error(
          g.requestId(), MessageCodec.ERR_NOT_FOUND, "no manifest at index " + g.index());
    }
    return new ManifestBytes(g.requestId(), ManifestCodec.encode(m));
  }

  private Error badTtl(long requestId, long ttlMillis) {
    long max = server.maxLeaseTtl.toMillis();
    if (ttlMillis >= 1 && ttlMillis <= max) {
      return null;
    }
    return new Error(
        requestId,
        MessageCodec.ERR_BAD_REQUEST,
        "lease duration must be 1.." + max + " ms, got " + ttlMillis);
  }

  Message pin(Pin p, String peer) throws IOException {
    Error bad = badTtl(p.requestId(), p.ttlMillis());
    if (bad != null) {
      return bad;
    }
    Manifest m = find(p.index());
    if (m == null) {
      return new Error(
          p.requestId(), MessageCodec.ERR_NOT_FOUND, "no manifest at index " + p.index());
    }
    ChunkStore store = source.store();
    String key = ChunkStore.manifestKey(m);
    Lease lease;
    try {
      lease = store.pin(key, Duration.ofMillis(p.ttlMillis()));
    } catch (IllegalStateException e) {
      return new Error(
          p.requestId(),
          MessageCodec.ERR_NOT_FOUND,
          "manifest at index " + p.index() + " is no longer retained");
    }
    if (granted.size() >= MAX_TRACKED_LEASES) {
      Instant now = server.clock.instant();
      granted.values().removeIf(expiry -> !now.isBefore(expiry));
    }
    granted.put(lease.id(), lease.expiresAt());
    LOG.debug("chunk server {}: {} pinned {} as lease {}", server.nodeId, peer, key, lease.id());
    return new LeaseGranted(
        p.requestId(), lease.id(), lease.manifestKey(), lease.expiresAt().toEpochMilli());
  }

  Message renew(Renew r) throws IOException {
    Error bad = badTtl(r.requestId(), r.ttlMillis());
    if (bad != null) {
      return bad;
    }
    if (!granted.containsKey(r.leaseId())) {
      return new Error(
          r.requestId(),
          MessageCodec.ERR_LEASE_EXPIRED,
          "lease " + r.leaseId() + " was not granted by this server or has ended");
    }
    Lease lease;
    try {
      lease = source.store().renew(r.leaseId(), Duration.ofMillis(r.ttlMillis()));
    } catch (LeaseExpiredException e) {
      granted.remove(r.leaseId());
      return new Error(r.requestId(), MessageCodec.ERR_LEASE_EXPIRED, e.getMessage());
    }
    granted.put(lease.id(), lease.expiresAt());
    return new LeaseGranted(
        r.requestId(), lease.id(), lease.manifestKey(), lease.expiresAt().toEpochMilli());
  }

  Message unpin(Unpin u) throws IOException {
    if (granted.remove(u.leaseId()) != null) {
      source.store().unpin(u.leaseId());
    }
    return new Ok(u.requestId());
  }
}
