package dev.ferry.shipping.net;

import java.net.InetAddress;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;

/**
 * Admission of connections that have not authenticated yet, shared by the chunk and admin services:
 * at most {@code total} of them at once, and at most {@code perAddress} from one source address. A
 * connection holds its slot from accept until it authenticates or closes, so idle or slow strangers
 * can hold at most these many slots (for at most the service's handshake deadline each), however
 * many sockets they open; capacity beyond {@code total} stays for authenticated peers.
 *
 * <p>Thread-safe; every call is short and never blocks on I/O.
 */
public final class HandshakeSlots {
  private final int total;
  private final int perAddress;
  private final Map<InetAddress, Integer> byAddress = new HashMap<>();
  private int used;

  /**
   * @param total most connections in their handshake at once
   * @param perAddress most of them from one source address
   * @throws IllegalArgumentException unless {@code 1 <= perAddress <= total}
   */
  public HandshakeSlots(int total, int perAddress) {
    if (perAddress < 1 || perAddress > total) {
      throw new IllegalArgumentException(
          "need 1 <= perAddress <= total: perAddress " + perAddress + ", total " + total);
    }
    this.total = total;
    this.perAddress = perAddress;
  }

  /**
   * Takes a slot for a new connection from {@code address}.
   *
   * @return null if granted (release it with {@link #release}), else why not, for the log
   */
  public synchronized String tryAcquire(InetAddress address) {
    Objects.requireNonNull(address, "address");
    int mine = byAddress.getOrDefault(address, 0);
    if (mine >= perAddress) {
      return mine
          + " unauthenticated connections from "
          + address.getHostAddress()
          + " already (limit "
          + perAddress
          + " per address)";
    }
    if (used >= total) {
      return used + " unauthenticated connections already (limit " + total + ")";
    }
    byAddress.put(address, mine + 1);
    used++;
    return null;
  }

  /** Gives back a slot {@link #tryAcquire} granted. */
  public synchronized void release(InetAddress address) {
    Integer mine = byAddress.get(address);
    if (mine == null) {
      throw new IllegalStateException("no slot held for " + address);
    }
    if (mine == 1) {
      byAddress.remove(address);
    } else {
      byAddress.put(address, mine - 1);
    }
    used--;
  }

  /** Slots held now. */
  public synchronized int inUse() {
    return used;
  }

  /** The most slots from one address. */
  public int perAddress() {
    return perAddress;
  }

  /** The most slots in all. */
  public int total() {
    return total;
  }
}
