package dev.ferry.kv.internal;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Objects;

/**
 * An immutable sorted map from {@code byte[]} keys to {@code byte[]} values, ordered by unsigned
 * lexicographic comparison of the keys ({@link Arrays#compareUnsigned(byte[], byte[])}), in which
 * every update returns a new version that shares all untouched structure with the old one.
 *
 * <p>It holds the key-value store's state: the apply thread replaces its current version with the
 * result of each update, and a point-in-time view is simply a reference to an older version, taken
 * in O(1) and unaffected by later updates. Versions are thread-safe by immutability and may be read
 * (looked up, iterated) by any number of threads while the apply thread goes on updating.
 *
 * <p><b>Arrays are shared, never copied.</b> Keys and values handed to {@link #put}, {@link
 * #getAndPut} or {@link Builder#add} are stored as given, and {@link #get}, {@link Entry} and
 * {@link Update} return the stored arrays themselves. Callers must not mutate an array after
 * handing it in, nor an array they get back; doing so silently corrupts every version that shares
 * it (and, for keys, the ordering). Keys and values must be non-null; empty arrays are allowed.
 *
 * <p><b>Design.</b> A persistent B+-tree: leaves hold up to {@code capacity} sorted keys with their
 * values in exactly-sized parallel arrays; branches hold up to {@code capacity} children and one
 * fewer separator keys. An update copies the path from the root to the affected leaf (about
 * log<sub>capacity/2..capacity</sub>(n) nodes, 4 for a million keys at the default capacity of 32)
 * and shares everything else. Overwriting an existing key copies only the leaf's value array,
 * sharing its key arrays. {@link Builder} loads strictly increasing input in O(n) with full leaves.
 * Beside its keys every node keeps their first 8 bytes as big-endian {@code long}s (zero-padded),
 * an order-preserving prefix: binary search compares these primitives and dereferences a key array
 * only when prefixes tie, which saves most cache misses of a lookup.
 *
 * <p>Invariants (checked by {@link #checkInvariants()}):
 *
 * <ul>
 *   <li>all leaves are at the same depth; keys are strictly increasing within a leaf, and every key
 *       in a branch's child {@code i} lies in {@code [separator[i-1], separator[i])};
 *   <li>every node holds at most {@code capacity} keys (leaf) or children (branch); every node but
 *       the root holds at least {@code capacity / 2}; a root branch has at least 2 children;
 *   <li>{@code prefixes[i] == prefix(keys[i])} in every node;
 *   <li>{@link #size()} is the number of keys in the leaves.
 * </ul>
 */
public final class PersistentSortedMap implements Iterable<PersistentSortedMap.Entry> {
  /** Default maximum number of keys per leaf and children per branch. */
  static final int DEFAULT_NODE_CAPACITY = 32;

  /** Smallest node capacity that keeps the B-tree invariants meaningful. */
  static final int MIN_NODE_CAPACITY = 4;

  private static final HexFormat HEX = HexFormat.of();
  private static final VarHandle LONG_BIG_ENDIAN =
      MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.BIG_ENDIAN);
  private static final byte[][] NO_KEYS = new byte[0][];
  private static final Leaf EMPTY_LEAF = new Leaf(NO_KEYS, new long[0], NO_KEYS);
  private static final PersistentSortedMap EMPTY =
      new PersistentSortedMap(EMPTY_LEAF, 0, DEFAULT_NODE_CAPACITY);

  private final Node root;
  private final int size;
  private final int capacity;

  private PersistentSortedMap(Node root, int size, int capacity) {
    this.root = root;
    this.size = size;
    this.capacity = capacity;
  }

  /** Returns the empty map. */
  public static PersistentSortedMap empty() {
    return EMPTY;
  }

  /**
   * Returns an empty map whose nodes hold at most {@code nodeCapacity} entries; tests use small
   * capacities to exercise deep trees with few keys.
   *
   * @throws IllegalArgumentException if {@code nodeCapacity < 4}
   */
  static PersistentSortedMap empty(int nodeCapacity) {
    return new PersistentSortedMap(EMPTY_LEAF, 0, checkCapacity(nodeCapacity));
  }

  /** Returns a builder that loads strictly increasing keys in O(n). */
  public static Builder builder() {
    return new Builder(DEFAULT_NODE_CAPACITY);
  }

  /**
   * Returns a builder whose maps have nodes of at most {@code nodeCapacity} entries.
   *
   * @throws IllegalArgumentException if {@code nodeCapacity < 4}
   */
  static Builder builder(int nodeCapacity) {
    return new Builder(checkCapacity(nodeCapacity));
  }

  private static int checkCapacity(int nodeCapacity) {
    if (nodeCapacity < MIN_NODE_CAPACITY) {
      throw new IllegalArgumentException(
          "node capacity must be at least " + MIN_NODE_CAPACITY + ", got " + nodeCapacity);
    }
    return nodeCapacity;
  }

  /** Returns the number of entries. */
  public int size() {
    return size;
  }

  /** Returns whether the map has no entries. */
  public boolean isEmpty() {
    return size == 0;
  }

  /**
   * Returns the value stored for {@code key} (the stored array itself, not a copy), or {@code null}
   * if there is none. O(log n).
   *
   * @throws NullPointerException if {@code key} is null
   */
  public byte[] get(byte[] key) {
    long prefix = prefix(Objects.requireNonNull(key, "key"));
    Node node = root;
    while (node instanceof Branch) {
      node = ((Branch) node).children[childIndex(node, key, prefix)];
    }
    Leaf leaf = (Leaf) node;
    int i = search(leaf, key, prefix);
    return i >= 0 ? leaf.values[i] : null;
  }

  /**
   * Returns whether the map has an entry for {@code key}.
   *
   * @throws NullPointerException if {@code key} is null
   */
  public boolean containsKey(byte[] key) {
    return get(key) != null;
  }

  /**
   * Returns a map with {@code key} mapped to {@code value}, replacing any previous value; this map
   * is unchanged. O(log n) time and allocation (the path to the key is copied). Both arrays are
   * stored as given and must not be mutated afterwards.
   *
   * @throws NullPointerException if {@code key} or {@code value} is null
   */
  public PersistentSortedMap put(byte[] key, byte[] value) {
    return getAndPut(key, value).map();
  }

  /**
   * Like {@link #put}, and also reports the value the key had before, at no extra lookup cost.
   *
   * @return the new map and the previous value ({@code null} if the key was absent); if {@code
   *     value} is the very array already stored for {@code key}, the new map is this map
   * @throws NullPointerException if {@code key} or {@code value} is null
   */
  public Update getAndPut(byte[] key, byte[] value) {
    Objects.requireNonNull(key, "key");
    Objects.requireNonNull(value, "value");
    Mutation m = new Mutation(key);
    Node newRoot = put(root, value, capacity, m);
    if (newRoot == root) {
      return new Update(this, m.previous);
    }
    if (m.splitRight != null) {
      newRoot =
          new Branch(
              new byte[][] {m.splitKey},
              new long[] {m.splitPrefix},
              new Node[] {newRoot, m.splitRight});
    }
    return new Update(
        new PersistentSortedMap(newRoot, m.previous == null ? size + 1 : size, capacity),
        m.previous);
  }

  /**
   * Returns a map without an entry for {@code key}; this map is unchanged. If there is no such
   * entry, returns this map itself. O(log n).
   *
   * @throws NullPointerException if {@code key} is null
   */
  public PersistentSortedMap remove(byte[] key) {
    return getAndRemove(key).map();
  }

  /**
   * Like {@link #remove}, and also reports the value the key had, at no extra lookup cost.
   *
   * @return the new map and the removed value; if the key was absent, this map and {@code null}
   * @throws NullPointerException if {@code key} is null
   */
  public Update getAndRemove(byte[] key) {
    Objects.requireNonNull(key, "key");
    Mutation m = new Mutation(key);
    Node newRoot = remove(root, capacity, m);
    if (newRoot == root) {
      return new Update(this, null);
    }
    if (newRoot instanceof Branch && ((Branch) newRoot).children.length == 1) {
      newRoot = ((Branch) newRoot).children[0];
    }
    return new Update(new PersistentSortedMap(newRoot, size - 1, capacity), m.previous);
  }

  /**
   * Returns a lazy iterator over all entries in ascending key order. The iterator reads this
   * version only, so later updates never affect it; it is not itself thread-safe. {@link
   * Iterator#remove()} is unsupported.
   */
  @Override
  public Iterator<Entry> iterator() {
    return new Cursor(root, null, null);
  }

  /**
   * Returns a lazy iterator over the entries with {@code fromInclusive <= key < toExclusive} in
   * ascending key order; a null bound means unbounded on that side. Positioning costs O(log n) and
   * each step amortized O(1), so reading the first {@code limit} entries and dropping the iterator
   * costs O(log n + limit). The iterator reads this version only and is not itself thread-safe.
   *
   * @throws IllegalArgumentException if both bounds are given and {@code fromInclusive >
   *     toExclusive}
   */
  public Iterator<Entry> range(byte[] fromInclusive, byte[] toExclusive) {
    if (fromInclusive != null
        && toExclusive != null
        && Arrays.compareUnsigned(fromInclusive, toExclusive) > 0) {
      throw new IllegalArgumentException(
          "range start "
              + HEX.formatHex(fromInclusive)
              + " is after its end "
              + HEX.formatHex(toExclusive));
    }
    return new Cursor(root, fromInclusive, toExclusive);
  }

  @Override
  public String toString() {
    return "PersistentSortedMap[size=" + size + "]";
  }

  /**
   * Verifies the structural invariants listed in the class comment, walking the whole tree.
   *
   * @throws IllegalStateException naming the first violation found
   */
  void checkInvariants() {
    int[] leafDepth = {-1};
    long count = checkNode(root, null, null, 0, true, leafDepth);
    if (count != size) {
      throw new IllegalStateException("size is " + size + " but the leaves hold " + count);
    }
  }

  private long checkNode(
      Node node, byte[] lowInclusive, byte[] highExclusive, int depth, boolean isRoot, int[] leaf) {
    int min = isRoot ? 0 : capacity / 2;
    if (node.prefixes.length != node.keys.length) {
      throw new IllegalStateException(
          node.keys.length + " keys but " + node.prefixes.length + " prefixes");
    }
    for (int i = 0; i < node.keys.length; i++) {
      if (node.prefixes[i] != prefix(node.keys[i])) {
        throw new IllegalStateException("stale prefix for key " + HEX.formatHex(node.keys[i]));
      }
    }
    if (node instanceof Leaf) {
      Leaf l = (Leaf) node;
      if (leaf[0] < 0) {
        leaf[0] = depth;
      } else if (leaf[0] != depth) {
        throw new IllegalStateException("leaves at depths " + leaf[0] + " and " + depth);
      }
      int n = l.keys.length;
      if (l.values.length != n) {
        throw new IllegalStateException(
            "leaf has " + n + " keys but " + l.values.length + " values");
      }
      if (n > capacity || n < min) {
        throw new IllegalStateException("leaf holds " + n + " keys, capacity " + capacity);
      }
      for (int i = 0; i < n; i++) {
        if (l.keys[i] == null || l.values[i] == null) {
          throw new IllegalStateException("null key or value at leaf slot " + i);
        }
        if (i > 0 && Arrays.compareUnsigned(l.keys[i - 1], l.keys[i]) >= 0) {
          throw new IllegalStateException("leaf keys out of order at slot " + i);
        }
        checkBounds(l.keys[i], lowInclusive, highExclusive);
      }
      return n;
    }
    Branch b = (Branch) node;
    int n = b.children.length;
    if (b.keys.length != n - 1) {
      throw new IllegalStateException(
          "branch has " + n + " children but " + b.keys.length + " keys");
    }
    if (n > capacity || n < Math.max(min, 2)) {
      throw new IllegalStateException("branch holds " + n + " children, capacity " + capacity);
    }
    long count = 0;
    for (int i = 0; i < n; i++) {
      byte[] lo = i == 0 ? lowInclusive : b.keys[i - 1];
      byte[] hi = i == n - 1 ? highExclusive : b.keys[i];
      if (i < n - 1) {
        checkBounds(b.keys[i], lowInclusive, highExclusive);
        if (i > 0 && Arrays.compareUnsigned(b.keys[i - 1], b.keys[i]) >= 0) {
          throw new IllegalStateException("branch keys out of order at slot " + i);
        }
      }
      count += checkNode(b.children[i], lo, hi, depth + 1, false, leaf);
    }
    return count;
  }

  private static void checkBounds(byte[] key, byte[] lowInclusive, byte[] highExclusive) {
    if ((lowInclusive != null && Arrays.compareUnsigned(key, lowInclusive) < 0)
        || (highExclusive != null && Arrays.compareUnsigned(key, highExclusive) >= 0)) {
      throw new IllegalStateException("key " + HEX.formatHex(key) + " outside its subtree bounds");
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Values returned to callers

  /**
   * One key-value pair. The arrays are the map's own (see the class comment): do not mutate them.
   * Equality, hashing and {@code toString} are by array contents.
   */
  public record Entry(byte[] key, byte[] value) {
    /** Checks that neither array is null. */
    public Entry {
      Objects.requireNonNull(key, "key");
      Objects.requireNonNull(value, "value");
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof Entry
          && Arrays.equals(key, ((Entry) o).key)
          && Arrays.equals(value, ((Entry) o).value);
    }

    @Override
    public int hashCode() {
      return 31 * Arrays.hashCode(key) + Arrays.hashCode(value);
    }

    @Override
    public String toString() {
      return "Entry[key=" + HEX.formatHex(key) + ", value=" + value.length + " bytes]";
    }
  }

  /**
   * The result of {@link #getAndPut} or {@link #getAndRemove}: the new map version and the value
   * the key had before the update ({@code null} if it had none).
   */
  public record Update(PersistentSortedMap map, byte[] previous) {
    /** Checks that the map is not null ({@code previous} may be). */
    public Update {
      Objects.requireNonNull(map, "map");
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Nodes

  /**
   * A tree node, either a {@link Leaf} or a {@link Branch}, with its sorted keys and their prefixes
   * in parallel arrays of exactly the key count. Immutable once published.
   */
  private abstract static class Node {
    final byte[][] keys;
    final long[] prefixes;

    Node(byte[][] keys, long[] prefixes) {
      this.keys = keys;
      this.prefixes = prefixes;
    }
  }

  /** Keys with their values at the same indices. */
  private static final class Leaf extends Node {
    final byte[][] values;

    Leaf(byte[][] keys, long[] prefixes, byte[][] values) {
      super(keys, prefixes);
      this.values = values;
    }
  }

  /**
   * Children with separator keys: {@code keys[i]} is greater than every key under {@code
   * children[i]} and at most the smallest key under {@code children[i + 1]}.
   */
  private static final class Branch extends Node {
    final Node[] children;

    Branch(byte[][] keys, long[] prefixes, Node[] children) {
      super(keys, prefixes);
      this.children = children;
    }
  }

  /** Per-update state passed down the recursion (one allocation per update). */
  private static final class Mutation {
    final byte[] key;
    final long prefix;

    /** The value the key had before the update, or null. */
    byte[] previous;

    /** When non-null, the node returned by the callee split and this is its new right sibling. */
    Node splitRight;

    /** The separator between the returned node and {@link #splitRight}, and its prefix. */
    byte[] splitKey;

    long splitPrefix;

    Mutation(byte[] key) {
      this.key = key;
      this.prefix = prefix(key);
    }

    void split(Node right, byte[] separator, long separatorPrefix) {
      splitRight = right;
      splitKey = separator;
      splitPrefix = separatorPrefix;
    }
  }

  /**
   * The first 8 bytes of {@code key} as a big-endian unsigned number, zero-padded if shorter. Order
   * preserving: {@code prefix(a) < prefix(b)} (unsigned) implies {@code a < b}, and {@code a < b}
   * implies {@code prefix(a) <= prefix(b)}.
   */
  private static long prefix(byte[] key) {
    if (key.length >= Long.BYTES) {
      return (long) LONG_BIG_ENDIAN.get(key, 0);
    }
    long prefix = 0;
    for (int i = 0; i < Long.BYTES; i++) {
      prefix = (prefix << 8) | (i < key.length ? key[i] & 0xff : 0);
    }
    return prefix;
  }

  private static long[] prefixes(byte[][] keys) {
    long[] prefixes = new long[keys.length];
    for (int i = 0; i < keys.length; i++) {
      prefixes[i] = prefix(keys[i]);
    }
    return prefixes;
  }

  private static int nodeSize(Node node) {
    return node instanceof Leaf ? node.keys.length : ((Branch) node).children.length;
  }

  /**
   * Binary search in a node's keys: the index of {@code key}, or {@code -(insertion point) - 1} if
   * absent. Compares prefixes first and reads a key array only when they tie.
   */
  private static int search(Node node, byte[] key, long prefix) {
    long[] prefixes = node.prefixes;
    int lo = 0;
    int hi = prefixes.length - 1;
    while (lo <= hi) {
      int mid = (lo + hi) >>> 1;
      int c = Long.compareUnsigned(prefixes[mid], prefix);
      if (c == 0) {
        c = Arrays.compareUnsigned(node.keys[mid], key);
      }
      if (c < 0) {
        lo = mid + 1;
      } else if (c > 0) {
        hi = mid - 1;
      } else {
        return mid;
      }
    }
    return -(lo + 1);
  }

  /** The child of a branch whose subtree may hold {@code key}. */
  private static int childIndex(Node branch, byte[] key, long prefix) {
    int i = search(branch, key, prefix);
    return i >= 0 ? i + 1 : -(i + 1);
  }

  /** The index of the first key in a leaf that is {@code >= key} ({@code length} if none). */
  private static int lowerBound(Node leaf, byte[] key, long prefix) {
    int i = search(leaf, key, prefix);
    return i >= 0 ? i : -(i + 1);
  }

  private static <T> T[] inserted(T[] array, int at, T element) {
    T[] result = Arrays.copyOf(array, array.length + 1);
    System.arraycopy(array, at, result, at + 1, array.length - at);
    result[at] = element;
    return result;
  }

  private static long[] inserted(long[] array, int at, long element) {
    long[] result = Arrays.copyOf(array, array.length + 1);
    System.arraycopy(array, at, result, at + 1, array.length - at);
    result[at] = element;
    return result;
  }

  private static <T> T[] removed(T[] array, int at) {
    T[] result = Arrays.copyOf(array, array.length - 1);
    System.arraycopy(array, at + 1, result, at, array.length - at - 1);
    return result;
  }

  private static long[] removed(long[] array, int at) {
    long[] result = Arrays.copyOf(array, array.length - 1);
    System.arraycopy(array, at + 1, result, at, array.length - at - 1);
    return result;
  }

  private static <T> T[] concat(T[] left, T[] right) {
    T[] result = Arrays.copyOf(left, left.length + right.length);
    System.arraycopy(right, 0, result, left.length, right.length);
    return result;
  }

  private static long[] concat(long[] left, long[] right) {
    long[] result = Arrays.copyOf(left, left.length + right.length);
    System.arraycopy(right, 0, result, left.length, right.length);
    return result;
  }

  private static <T> T[] concat(T[] left, T middle, T[] right) {
    T[] result = Arrays.copyOf(left, left.length + 1 + right.length);
    result[left.length] = middle;
    System.arraycopy(right, 0, result, left.length + 1, right.length);
    return result;
  }

  private static long[] concat(long[] left, long middle, long[] right) {
    long[] result = Arrays.copyOf(left, left.length + 1 + right.length);
    result[left.length] = middle;
    System.arraycopy(right, 0, result, left.length + 1, right.length);
    return result;
  }

  /** A leaf of entries {@code [from, to)} of the given parallel arrays. */
  private static Leaf leaf(byte[][] keys, long[] prefixes, byte[][] values, int from, int to) {
    return new Leaf(
        Arrays.copyOfRange(keys, from, to),
        Arrays.copyOfRange(prefixes, from, to),
        Arrays.copyOfRange(values, from, to));
  }

  /** A branch of children {@code [from, to)} with the separators between them. */
  private static Branch branch(byte[][] keys, long[] prefixes, Node[] children, int from, int to) {
    return new Branch(
        Arrays.copyOfRange(keys, from, to - 1),
        Arrays.copyOfRange(prefixes, from, to - 1),
        Arrays.copyOfRange(children, from, to));
  }

  // ---------------------------------------------------------------------------------------------
  // Insertion

  /**
   * Returns {@code node} with {@code m.key} mapped to {@code value}; {@code node} itself if nothing
   * changed. If the result overflowed, returns its left half and records the right half in {@code
   * m}.
   */
  private static Node put(Node node, byte[] value, int capacity, Mutation m) {
    if (node instanceof Leaf) {
      return putInLeaf((Leaf) node, value, capacity, m);
    }
    Branch branch = (Branch) node;
    int ci = childIndex(branch, m.key, m.prefix);
    Node child = branch.children[ci];
    Node newChild = put(child, value, capacity, m);
    if (newChild == child) {
      return branch;
    }
    if (m.splitRight == null) {
      Node[] children = branch.children.clone();
      children[ci] = newChild;
      return new Branch(branch.keys, branch.prefixes, children);
    }
    byte[][] keys = inserted(branch.keys, ci, m.splitKey);
    long[] prefixes = inserted(branch.prefixes, ci, m.splitPrefix);
    Node[] children = inserted(branch.children, ci + 1, m.splitRight);
    children[ci] = newChild;
    m.split(null, null, 0);
    if (children.length <= capacity) {
      return new Branch(keys, prefixes, children);
    }
    int leftCount = children.length / 2;
    m.split(
        branch(keys, prefixes, children, leftCount, children.length),
        keys[leftCount - 1],
        prefixes[leftCount - 1]);
    return branch(keys, prefixes, children, 0, leftCount);
  }

  private static Node putInLeaf(Leaf leaf, byte[] value, int capacity, Mutation m) {
    int i = search(leaf, m.key, m.prefix);
    if (i >= 0) {
      m.previous = leaf.values[i];
      if (m.previous == value) {
        return leaf;
      }
      byte[][] values = leaf.values.clone();
      values[i] = value;
      return new Leaf(leaf.keys, leaf.prefixes, values);
    }
    int at = -(i + 1);
    byte[][] keys = inserted(leaf.keys, at, m.key);
    long[] prefixes = inserted(leaf.prefixes, at, m.prefix);
    byte[][] values = inserted(leaf.values, at, value);
    if (keys.length <= capacity) {
      return new Leaf(keys, prefixes, values);
    }
    int leftCount = keys.length / 2;
    m.split(
        leaf(keys, prefixes, values, leftCount, keys.length), keys[leftCount], prefixes[leftCount]);
    return leaf(keys, prefixes, values, 0, leftCount);
  }

  // ---------------------------------------------------------------------------------------------
  // Removal

  /**
   * Returns {@code node} without {@code m.key}; {@code node} itself if the key was absent. The
   * result may hold fewer than {@code capacity / 2} entries; the caller rebalances it with a
   * sibling.
   */
  private static Node remove(Node node, int capacity, Mutation m) {
    if (node instanceof Leaf) {
      Leaf leaf = (Leaf) node;
      int i = search(leaf, m.key, m.prefix);
      if (i < 0) {
        return leaf;
      }
      m.previous = leaf.values[i];
      return leaf.keys.length == 1
          ? EMPTY_LEAF
          : new Leaf(removed(leaf.keys, i), removed(leaf.prefixes, i), removed(leaf.values, i));
    }
    Branch branch = (Branch) node;
    int ci = childIndex(branch, m.key, m.prefix);
    Node child = branch.children[ci];
    Node newChild = remove(child, capacity, m);
    if (newChild == child) {
      return branch;
    }
    if (nodeSize(newChild) >= capacity / 2) {
      Node[] children = branch.children.clone();
      children[ci] = newChild;
      return new Branch(branch.keys, branch.prefixes, children);
    }
    // newChild underflowed; a non-root branch always has a sibling to merge with or borrow from.
    return ci > 0
        ? rebalance(branch, ci - 1, branch.children[ci - 1], newChild, capacity)
        : rebalance(branch, 0, newChild, branch.children[1], capacity);
  }

  /**
   * Returns {@code parent} with its children {@code at} and {@code at + 1} replaced by {@code left}
   * and {@code right} rebalanced: merged into one node if their entries fit, else redistributed
   * evenly between two.
   */
  private static Branch rebalance(Branch parent, int at, Node left, Node right, int capacity) {
    Node newLeft;
    Node newRight;
    byte[] separator;
    long separatorPrefix;
    if (left instanceof Leaf) {
      byte[][] keys = concat(left.keys, right.keys);
      long[] prefixes = concat(left.prefixes, right.prefixes);
      byte[][] values = concat(((Leaf) left).values, ((Leaf) right).values);
      if (keys.length <= capacity) {
        return replaceWithOne(parent, at, new Leaf(keys, prefixes, values));
      }
      int leftCount = keys.length / 2;
      newLeft = leaf(keys, prefixes, values, 0, leftCount);
      newRight = leaf(keys, prefixes, values, leftCount, keys.length);
      separator = keys[leftCount];
      separatorPrefix = prefixes[leftCount];
    } else {
      byte[][] keys = concat(left.keys, parent.keys[at], right.keys);
      long[] prefixes = concat(left.prefixes, parent.prefixes[at], right.prefixes);
      Node[] children = concat(((Branch) left).children, ((Branch) right).children);
      if (children.length <= capacity) {
        return replaceWithOne(parent, at, new Branch(keys, prefixes, children));
      }
      int leftCount = children.length / 2;
      newLeft = branch(keys, prefixes, children, 0, leftCount);
      newRight = branch(keys, prefixes, children, leftCount, children.length);
      separator = keys[leftCount - 1];
      separatorPrefix = prefixes[leftCount - 1];
    }
    byte[][] keys = parent.keys.clone();
    keys[at] = separator;
    long[] prefixes = parent.prefixes.clone();
    prefixes[at] = separatorPrefix;
    Node[] children = parent.children.clone();
    children[at] = newLeft;
    children[at + 1] = newRight;
    return new Branch(keys, prefixes, children);
  }

  private static Branch replaceWithOne(Branch parent, int at, Node merged) {
    Node[] children = removed(parent.children, at + 1);
    children[at] = merged;
    return new Branch(removed(parent.keys, at), removed(parent.prefixes, at), children);
  }

  // ---------------------------------------------------------------------------------------------
  // Iteration

  /**
   * A position in one version of the tree: the path of branches from the root with the child index
   * taken at each, the current leaf and the slot in it. Stepping to the next leaf climbs to the
   * deepest branch with a further child and descends along leftmost children.
   */
  private static final class Cursor implements Iterator<Entry> {
    private final Branch[] path;
    private final int[] slots;
    private final byte[] toExclusive;
    private Leaf leaf;
    private int pos;
    private boolean hasNext;

    Cursor(Node root, byte[] fromInclusive, byte[] toExclusive) {
      this.toExclusive = toExclusive;
      int depth = 0;
      for (Node n = root; n instanceof Branch; n = ((Branch) n).children[0]) {
        depth++;
      }
      path = new Branch[depth];
      slots = new int[depth];
      long fromPrefix = fromInclusive == null ? 0 : prefix(fromInclusive);
      Node node = root;
      for (int d = 0; d < depth; d++) {
        Branch branch = (Branch) node;
        path[d] = branch;
        slots[d] = fromInclusive == null ? 0 : childIndex(branch, fromInclusive, fromPrefix);
        node = branch.children[slots[d]];
      }
      leaf = (Leaf) node;
      pos = fromInclusive == null ? 0 : lowerBound(leaf, fromInclusive, fromPrefix);
      if (pos == leaf.keys.length) {
        nextLeaf();
      }
      updateHasNext();
    }

    @Override
    public boolean hasNext() {
      return hasNext;
    }

    @Override
    public Entry next() {
      if (!hasNext) {
        throw new NoSuchElementException();
      }
      Entry entry = new Entry(leaf.keys[pos], leaf.values[pos]);
      if (++pos == leaf.keys.length) {
        nextLeaf();
      }
      updateHasNext();
      return entry;
    }

    private void updateHasNext() {
      hasNext =
          leaf != null
              && (toExclusive == null || Arrays.compareUnsigned(leaf.keys[pos], toExclusive) < 0);
    }

    /** Moves to the first slot of the next leaf, or sets {@code leaf} to null at the end. */
    private void nextLeaf() {
      int d = path.length - 1;
      while (d >= 0 && slots[d] + 1 == path[d].children.length) {
        d--;
      }
      if (d < 0) {
        leaf = null;
        return;
      }
      slots[d]++;
      Node node = path[d].children[slots[d]];
      for (d++; d < path.length; d++) {
        path[d] = (Branch) node;
        slots[d] = 0;
        node = path[d].children[0];
      }
      leaf = (Leaf) node;
      pos = 0;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Bulk loading

  /**
   * Loads entries given in strictly increasing key order into a map in O(n) time, packing leaves
   * full (then evening out the last two so both respect the minimum occupancy). Used to restore a
   * snapshot, whose records arrive sorted.
   *
   * <p>Not thread-safe: one thread adds and builds. Single use: after {@link #build()} the builder
   * refuses further calls. Arrays are stored as given (see {@link PersistentSortedMap}).
   */
  public static final class Builder {
    private final int capacity;
    private final List<Node> leaves = new ArrayList<>();
    private final List<byte[]> leafFirstKeys = new ArrayList<>();
    private byte[][] keys;
    private byte[][] values;
    private int count;
    private int size;
    private byte[] lastKey;
    private boolean built;

    private Builder(int capacity) {
      this.capacity = capacity;
      this.keys = new byte[capacity][];
      this.values = new byte[capacity][];
    }

    /**
     * Appends an entry, which must sort strictly after the previous one.
     *
     * @return this builder
     * @throws NullPointerException if {@code key} or {@code value} is null
     * @throws IllegalArgumentException if {@code key} is not strictly greater than the previous key
     *     (unsigned lexicographic order)
     * @throws IllegalStateException if {@link #build()} was already called, or the map would exceed
     *     {@link Integer#MAX_VALUE} entries
     */
    public Builder add(byte[] key, byte[] value) {
      Objects.requireNonNull(key, "key");
      Objects.requireNonNull(value, "value");
      if (built) {
        throw new IllegalStateException("builder already built");
      }
      if (lastKey != null && Arrays.compareUnsigned(lastKey, key) >= 0) {
        throw new IllegalArgumentException(
            "keys must be strictly increasing: "
                + HEX.formatHex(key)
                + " after "
                + HEX.formatHex(lastKey));
      }
      if (size == Integer.MAX_VALUE) {
        throw new IllegalStateException("too many entries");
      }
      if (count == capacity) {
        flushLeaf();
      }
      keys[count] = key;
      values[count] = value;
      count++;
      size++;
      lastKey = key;
      return this;
    }

    /** Returns the number of entries added so far. */
    public int size() {
      return size;
    }

    /**
     * Returns the map holding every added entry. O(n / capacity) beyond the leaves already built.
     *
     * @throws IllegalStateException if already called
     */
    public PersistentSortedMap build() {
      if (built) {
        throw new IllegalStateException("builder already built");
      }
      built = true;
      if (leaves.isEmpty()) {
        Node only = count == 0 ? EMPTY_LEAF : newLeaf(Arrays.copyOf(keys, count), values, count);
        return new PersistentSortedMap(only, size, capacity);
      }
      if (count >= capacity / 2) {
        flushLeaf();
      } else {
        // Too few for a leaf of their own: share the previous (full) leaf's entries evenly.
        Leaf previous = (Leaf) leaves.remove(leaves.size() - 1);
        leafFirstKeys.remove(leafFirstKeys.size() - 1);
        byte[][] allKeys = concat(previous.keys, Arrays.copyOf(keys, count));
        byte[][] allValues = concat(previous.values, Arrays.copyOf(values, count));
        int leftCount = allKeys.length / 2;
        addLeaf(Arrays.copyOf(allKeys, leftCount), allValues, 0);
        addLeaf(Arrays.copyOfRange(allKeys, leftCount, allKeys.length), allValues, leftCount);
      }
      keys = null;
      values = null;
      List<Node> level = leaves;
      List<byte[]> firstKeys = leafFirstKeys;
      while (level.size() > 1) {
        int n = level.size();
        int groups = (n + capacity - 1) / capacity;
        List<Node> parents = new ArrayList<>(groups);
        List<byte[]> parentFirstKeys = new ArrayList<>(groups);
        int start = 0;
        for (int g = 0; g < groups; g++) {
          // Even split: every group gets n / groups or one more, which is >= capacity / 2.
          int end = start + n / groups + (g < n % groups ? 1 : 0);
          byte[][] separators = firstKeys.subList(start + 1, end).toArray(new byte[0][]);
          Node[] children = level.subList(start, end).toArray(new Node[0]);
          parents.add(new Branch(separators, prefixes(separators), children));
          parentFirstKeys.add(firstKeys.get(start));
          start = end;
        }
        level = parents;
        firstKeys = parentFirstKeys;
      }
      return new PersistentSortedMap(level.get(0), size, capacity);
    }

    private void flushLeaf() {
      addLeaf(Arrays.copyOf(keys, count), values, 0);
      Arrays.fill(keys, null);
      Arrays.fill(values, null);
      count = 0;
    }

    /** Adds a leaf of {@code leafKeys} with the values starting at {@code valuesFrom}. */
    private void addLeaf(byte[][] leafKeys, byte[][] allValues, int valuesFrom) {
      leaves.add(
          new Leaf(
              leafKeys,
              prefixes(leafKeys),
              Arrays.copyOfRange(allValues, valuesFrom, valuesFrom + leafKeys.length)));
      leafFirstKeys.add(leafKeys[0]);
    }

    private static Leaf newLeaf(byte[][] leafKeys, byte[][] allValues, int count) {
      return new Leaf(leafKeys, prefixes(leafKeys), Arrays.copyOf(allValues, count));
    }
  }
}
