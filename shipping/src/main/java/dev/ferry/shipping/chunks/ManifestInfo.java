package dev.ferry.shipping.chunks;

import dev.ferry.snapshot.ChunkRef;
import dev.ferry.snapshot.format.Manifest;
import dev.ferry.snapshot.format.ManifestCodec;
import dev.ferry.snapshot.format.ManifestRoot;
import java.util.Objects;

/**
 * What a peer says about one of its manifests, enough to choose a baseline before fetching it.
 * Every replica's manifest at an index is byte-identical, so equal roots mean equal snapshots.
 *
 * @param term Raft term of the snapshot, {@code >= 0}
 * @param index Raft index of the snapshot, {@code >= 0}
 * @param root the manifest's root hash ({@link ManifestCodec#rootHash})
 * @param rawBytes uncompressed bytes referenced, counting a repeated chunk once per reference
 * @param storedBytes stored bytes referenced (as the peer encoded them), counting repeats
 * @param chunkCount chunk references, repeats included
 */
public record ManifestInfo(
    long term, long index, ManifestRoot root, long rawBytes, long storedBytes, int chunkCount) {
  public ManifestInfo {
    Objects.requireNonNull(root, "root");
    if (term < 0 || index < 0 || rawBytes < 0 || storedBytes < 0 || chunkCount < 0) {
      throw new IllegalArgumentException(
          "negative field in manifest info: term "
              + term
              + ", index "
              + index
              + ", rawBytes "
              + rawBytes
              + ", storedBytes "
              + storedBytes
              + ", chunkCount "
              + chunkCount);
    }
  }

  /** Describes {@code manifest} (encodes it once to compute the root). */
  public static ManifestInfo of(Manifest manifest) {
    long stored = 0;
    int count = 0;
    for (ChunkRef ref : manifest.allChunks()) {
      stored += ref.storedSize();
      count++;
    }
    return new ManifestInfo(
        manifest.term(),
        manifest.index(),
        ManifestCodec.rootHash(manifest),
        manifest.rawBytes(),
        stored,
        count);
  }
}
