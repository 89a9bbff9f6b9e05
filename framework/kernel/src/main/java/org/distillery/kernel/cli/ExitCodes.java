package org.distillery.kernel.cli;

/** Process exit codes of {@code distill}, listed in the README. */
public final class ExitCodes {
    /** Success. */
    public static final int OK = 0;
    /** A failure at run time (an exception in training, I/O error); the message says what. */
    public static final int FAILED = 1;
    /** Invalid input: command-line usage, experiment config, missing files, unknown keys. */
    public static final int INVALID = 2;
    /** The run stopped before finishing (operator stop, vanished loss); its checkpoint is intact. */
    public static final int STOPPED = 3;
    /** A swap or stop request that the run did not answer in time (is it running?). */
    public static final int NO_ANSWER = 4;

    private ExitCodes() {
    }
}
