package org.distillery.spark;

/**
 * Bad input (a malformed record, a missing file, a bad option): the job stops with exit code 2
 * and this message, which names what is wrong and where. Thrown on the driver, or inside a task
 * (it is serialisable, and the driver finds it in the cause chain of Spark's job failure).
 */
public final class InvalidInputException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    /** An exception with its message. */
    public InvalidInputException(String message) {
        super(message);
    }

    /** The first {@code InvalidInputException} in {@code t}'s cause chain, or {@code null}. */
    public static InvalidInputException find(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c instanceof InvalidInputException e) {
                return e;
            }
            if (c.getCause() == c) {
                break;
            }
        }
        return null;
    }
}
