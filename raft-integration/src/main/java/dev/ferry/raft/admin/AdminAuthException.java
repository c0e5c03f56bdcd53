package dev.ferry.raft.admin;

import java.io.IOException;

/** The admin service and its client did not authenticate each other (wrong cluster secret). */
public final class AdminAuthException extends IOException {
  private static final long serialVersionUID = 1L;

  public AdminAuthException(String message) {
    super(message);
  }
}
