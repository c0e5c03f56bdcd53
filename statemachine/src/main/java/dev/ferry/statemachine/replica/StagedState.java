package dev.ferry.statemachine.replica;

import dev.ferry.snapshot.StateDigest;
import dev.ferry.snapshot.format.Manifest;
import dev.ferry.statemachine.StateLoader;
import dev.ferry.statemachine.internal.SessionTable;
import java.util.List;

/**
 * A loaded, verified state waiting to be swapped in.
 *
 * @param manifest the snapshot it was loaded from
 * @param loader the state machine's loader holding it
 * @param sessions the session table at the snapshot's index
 * @param shards the records digest of each shard
 */
record StagedState(
    Manifest manifest, StateLoader loader, SessionTable sessions, List<StateDigest> shards) {}
