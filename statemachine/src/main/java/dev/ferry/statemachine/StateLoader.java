package dev.ferry.statemachine;

import java.io.IOException;
import java.util.Iterator;
import java.util.function.Consumer;

/**
 * Builds a new state beside the live one, shard by shard, from a snapshot: at a restart (the node's
 * own latest snapshot) and for an install (a baseline fetched from peers).
 *
 * <p><b>Calls.</b> The framework builds every shard of the snapshot once: with {@link #loadShard}
 * (the shard's records in full) or with a finished {@link #editShard} editor (start from the shard
 * as it was in an earlier view of this state machine and apply only what changed since), then calls
 * either {@link #commit} — after it verified the loaded state's digest — or {@link #abort}. Until
 * {@code commit} the live state must stay untouched and serving.
 *
 * <p><b>Concurrency.</b> Distinct shards are loaded <em>concurrently</em>, on as many threads as
 * the machine has cores: {@code loadShard} and {@code editShard} may run at the same time for
 * different shards, never twice at once for the same shard. A loader therefore keeps each shard's
 * result separate (for example in its own slot of an array: the framework publishes every load's
 * result to the thread that calls {@code commit}). {@code commit} and {@code abort} are called
 * once, after every load call returned.
 *
 * <p><b>Delta loads.</b> A loader that can build a shard from an earlier, structurally shared
 * version of it overrides {@link #editShard}; the framework then reads only the runs of the new
 * snapshot that the node's latest snapshot lacks, and updates the digest from the changed records
 * only. A loader that does not (the default returns {@code null}) gets every shard in full. The
 * delta path needs a state machine that implements {@link ReportsChanges} (its snapshots are
 * layered, so a new snapshot shares the older one's runs); the framework then keeps the {@link
 * StateView} of the node's latest snapshot to edit from.
 */
public interface StateLoader {
  /**
   * Loads one shard's records, given in strictly increasing key order. May run concurrently with
   * the loading of other shards.
   */
  void loadShard(int shard, Iterator<Record> records) throws IOException;

  /**
   * Starts building shard {@code shard} from its content in {@code base}, a view this state machine
   * returned earlier from {@code view()}, so that the framework can apply the changes since then
   * through the returned editor. Must not modify {@code base} (it is a point-in-time view and stays
   * valid). May run concurrently with the loading of other shards. The framework may drop an editor
   * without {@link ShardEditor#finish finishing} it (the changes turned out not to apply to {@code
   * base}) and then call {@link #loadShard} for the same shard: what an unfinished editor built
   * must not become the shard's content.
   *
   * @return an editor, or {@code null} when this loader cannot build from {@code base} (the shard
   *     is then loaded in full)
   */
  default ShardEditor editShard(int shard, StateView base) {
    return null;
  }

  /**
   * Replaces the live state with the loaded one. Called on the apply thread while the state machine
   * is paused; must not fail.
   */
  void commit();

  /** Discards what was loaded. */
  void abort();

  /**
   * A loader for a state written with {@link StateView#singleRecord}: it collects the one record
   * and hands its value to {@code onCommit} when the framework commits the load (on the apply
   * thread, while the state machine is paused). {@code onCommit} gets {@code null} when the
   * snapshot holds no record. A snapshot with more than one record, or with a record under another
   * key, fails the load with an {@link IOException}.
   *
   * @param onCommit replaces the live state with the loaded value; must not fail
   */
  static StateLoader singleRecord(Consumer<byte[]> onCommit) {
    return new SingleRecord.Loader(onCommit);
  }

  /**
   * Applies the changes of one shard on top of its earlier content. Used by one thread; the
   * framework calls {@link #set} for the changed keys in strictly increasing key order, then {@link
   * #finish}.
   */
  interface ShardEditor {
    /**
     * Sets {@code key} to {@code value}, or removes it when {@code value} is {@code null}.
     *
     * @return the value {@code key} had before (in the shard being built), or {@code null} if it
     *     had none
     */
    byte[] set(byte[] key, byte[] value);

    /** Ends the shard: what was built becomes the shard's loaded content. */
    void finish();
  }

  /**
   * One key/value record of a shard.
   *
   * @param key the key
   * @param value the value
   */
  record Record(byte[] key, byte[] value) {}
}
