package io.rtensor.host;

import java.io.PrintWriter;
import java.io.Serializable;
import java.io.StringWriter;

/**
 * The outcome of an engine operation on a worker, sent back to the controller. A failure is a
 * value, not a thrown exception, so the controller tells an engine's own exception (never retried)
 * from a transport failure (retried).
 *
 * <p>A plain class rather than a record: Ray's Java serializer (FST) sets fields reflectively,
 * which the JDK forbids for a record's final fields.
 */
public final class CallResult implements Serializable {
  private static final long serialVersionUID = 1L;

  /** Kinds of outcome. */
  public enum Status {
    /** The operation returned. */
    OK,
    /** The engine (its constructor or method) threw. */
    ENGINE_EXCEPTION,
    /** No engine of that name, no engine at all, or no such class. */
    NOT_FOUND,
    /** No method matches the name and argument types, or more than one does. */
    NO_SUCH_METHOD,
    /**
     * The arguments are unusable (a class that is not an engine, a handle that cannot be fetched).
     */
    BAD_ARGUMENT,
    /**
     * The call asked for its tensor arguments on a device ({@code CallOptions.withDevice}) and
     * cannot have them there: the method declares a host tensor parameter, an argument is a batch,
     * or the worker holds no such device. The engine did not run.
     */
    DEVICE_ARGUMENT
  }

  private Status status;
  private Object value;
  private String errorClass;
  private String errorMessage;
  private String errorStack;

  /** For serializers. */
  CallResult() {}

  private CallResult(
      Status status, Object value, String errorClass, String errorMessage, String errorStack) {
    this.status = status;
    this.value = value;
    this.errorClass = errorClass;
    this.errorMessage = errorMessage;
    this.errorStack = errorStack;
  }

  /** A successful result. */
  public static CallResult ok(Object value) {
    return new CallResult(Status.OK, value, null, null, null);
  }

  /** A failure without an exception. */
  public static CallResult failure(Status status, String message) {
    return new CallResult(status, null, null, message, null);
  }

  /** A failure caused by {@code error} on the worker. */
  public static CallResult failure(Status status, Throwable error) {
    StringWriter stack = new StringWriter();
    error.printStackTrace(new PrintWriter(stack));
    return new CallResult(
        status,
        null,
        error.getClass().getName(),
        String.valueOf(error.getMessage()),
        stack.toString());
  }

  /** What happened. */
  public Status status() {
    return status;
  }

  /** The result when OK (tensors already remotized). */
  public Object value() {
    return value;
  }

  /** The exception class on the worker, or null. */
  public String errorClass() {
    return errorClass;
  }

  /** What went wrong, or null. */
  public String errorMessage() {
    return errorMessage;
  }

  /** The worker-side stack trace text, or null. */
  public String errorStack() {
    return errorStack;
  }

  /** True when the operation returned. */
  public boolean ok() {
    return status == Status.OK;
  }

  @Override
  public String toString() {
    return ok() ? "OK " + value : status + " " + errorClass + ": " + errorMessage;
  }
}
