package dev.ferry.statemachine.internal;

import dev.ferry.snapshot.StateDigest;
import dev.ferry.statemachine.StateView;
import java.util.List;
import java.util.Map;

/**
 * Everything a capture at one log index needs, taken on the apply thread and handed to the capture
 * thread. Nothing in it is touched by apply afterwards.
 *
 * @param term term of the capture entry
 * @param index index of the capture entry
 * @param view point-in-time view of the state
 * @param changes per shard, the keys changed since the previous capture and their new values (the
 *     {@code tombstone} array, by identity, for deleted keys); {@code null} when the state machine
 *     does not report changes, so every shard is written in full
 * @param tombstone the marker of deleted keys in {@code changes}
 * @param sessionTable the encoded session table at {@code index}
 * @param digest the state digest at {@code index}, or {@code null} to compute it from the records
 *     written (only when every shard is written in full)
 * @param sessionsDigest the session table's part of the digest
 */
public record CaptureJob(
    long term,
    long index,
    StateView view,
    List<Map<ByteKey, byte[]>> changes,
    byte[] tombstone,
    byte[] sessionTable,
    StateDigest digest,
    StateDigest sessionsDigest) {}
