package org.distillery.tensor;

/**
 * A setting of the tensor service (device, threads, audit), from an experiment, a command line, a
 * system property or the environment, is malformed; the message names it, the value and what is
 * accepted. The command line reports it as invalid input (exit code 2).
 */
public final class InvalidTensorSettingException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    /** Creates the exception with a message naming the setting. */
    public InvalidTensorSettingException(String message) {
        super(message);
    }
}
