package dev.ferry.statemachine;

/**
 * How a replica loaded a snapshot (at start, or for an install): which shards it read in full,
 * which it built from the state it held (the delta path), and how much it read.
 *
 * @param shardsInFull shards read and loaded in full
 * @param shardsEdited shards built from the held state plus only the runs it lacked
 * @param shardsReused shards taken unchanged from the held state (nothing read)
 * @param chunksRead chunks read, from the chunk store or the installer's decoded chunks
 * @param bytesRead raw (decoded) bytes of those chunks
 * @param changesApplied records applied to edited shards (puts and deletions)
 */
public record LoadReport(
    int shardsInFull,
    int shardsEdited,
    int shardsReused,
    long chunksRead,
    long bytesRead,
    long changesApplied) {}
