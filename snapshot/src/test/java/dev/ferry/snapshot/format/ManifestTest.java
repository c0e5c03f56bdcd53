package dev.ferry.snapshot.format;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.snapshot.StateDigest;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/** The invariants {@link Manifest} and {@link Shard} enforce so that every value can be encoded. */
class ManifestTest {

  private static Manifest withShards(List<Shard> shards) {
    return new Manifest(0, 0, shards, List.of(), StateDigest.EMPTY);
  }

  private static Manifest withMetadata(Map<String, String> metadata) {
    return new Manifest(0, 0, List.of(), List.of(), StateDigest.EMPTY, new TreeMap<>(metadata));
  }

  private static void assertRefused(Runnable r, String message) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, r::run);
    assertTrue(e.getMessage().contains(message), e::getMessage);
  }

  @Test
  void shardNamesAreUnique() {
    Shard a = new Shard("a", List.of());
    assertRefused(() -> withShards(List.of(a, new Shard("b", List.of()), a)), "two shards named");
  }

  @Test
  void shardCountIsBounded() {
    List<Shard> shards = new ArrayList<>();
    for (int i = 0; i <= Manifest.MAX_SHARDS; i++) {
      shards.add(new Shard(Integer.toString(i), List.of()));
    }
    assertRefused(() -> withShards(shards), "more than 65536 shards");
    assertEquals(Manifest.MAX_SHARDS, withShards(shards.subList(1, shards.size())).shards().size());
  }

  @Test
  void shardNamesAreBoundedAndWellFormed() {
    String longest = "é".repeat(Shard.MAX_NAME_BYTES / 2);
    assertEquals(longest, new Shard(longest, List.of()).name());
    assertRefused(() -> new Shard(longest + "x", List.of()), "shard name longer than 256 bytes");
    assertRefused(() -> new Shard("a\uD800b", List.of()), "unpaired surrogate at char 1");
    assertRefused(() -> new Shard("\uDC00", List.of()), "unpaired surrogate at char 0");
    assertEquals("\uD83D\uDE00", new Shard("\uD83D\uDE00", List.of()).name());
  }

  @Test
  void metadataIsBoundedAndWellFormed() {
    Map<String, String> many = new HashMap<>();
    for (int i = 0; i <= Manifest.MAX_METADATA_ENTRIES; i++) {
      many.put("k" + i, "v");
    }
    assertRefused(() -> withMetadata(many), "more than 256 metadata entries");
    assertRefused(
        () -> withMetadata(Map.of("k".repeat(Manifest.MAX_METADATA_KEY_BYTES + 1), "v")),
        "metadata key longer than 256 bytes");
    assertRefused(
        () -> withMetadata(Map.of("k", "v".repeat(Manifest.MAX_METADATA_VALUE_BYTES + 1))),
        "longer than 16384 bytes");
    assertRefused(() -> withMetadata(Map.of("k\uD800", "v")), "metadata key holds an unpaired");
    assertRefused(() -> withMetadata(Map.of("k", "\uDFFF")), "metadata value holds an unpaired");
    TreeMap<String, String> nullValue = new TreeMap<>();
    nullValue.put("k", null);
    assertThrows(NullPointerException.class, () -> withMetadata(nullValue));
  }

  @Test
  void metadataIsCopiedIntoNaturalOrder() {
    TreeMap<String, String> reversed = new TreeMap<>(java.util.Collections.reverseOrder());
    reversed.put("a", "1");
    reversed.put("b", "2");
    SortedMap<String, String> kept = withMetadata(reversed).metadata();
    assertEquals(List.of("a", "b"), new ArrayList<>(kept.keySet()));
    assertEquals(null, kept.comparator());
    reversed.put("c", "3");
    assertEquals(2, kept.size());
    assertThrows(UnsupportedOperationException.class, () -> kept.put("d", "4"));
  }
}
