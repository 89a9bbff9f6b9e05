package org.distillery.api;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A file given as input that cannot be used: corrupt, truncated, of an unsupported kind, or
 * inconsistent with the files beside it (a model's weights against its {@code config.json}, a
 * checkpoint against its checksums, a dataset line). Like {@link InvalidConfigException} it is
 * invalid input: the kernel reports it with exit code 2, wherever in a command it surfaces. The
 * message names the file and what is wrong.
 */
public class InvalidFileException extends IOException {
    private static final long serialVersionUID = 1L;

    /** The file, when one is known (not serialised). */
    private final transient Path file;

    /**
     * Creates the exception with the message {@code <file>: <problem>}.
     *
     * @param file the file that cannot be used
     * @param problem what is wrong with it
     */
    public InvalidFileException(Path file, String problem) {
        this(file, problem, null);
    }

    /**
     * Creates the exception with the message {@code <file>: <problem>} and a cause.
     *
     * @param file the file that cannot be used
     * @param problem what is wrong with it
     * @param cause the underlying failure, or {@code null}
     */
    public InvalidFileException(Path file, String problem, Throwable cause) {
        super(file + ": " + problem, cause);
        this.file = file;
    }

    /**
     * Creates the exception with a message that already names the file.
     *
     * @param message the whole message, naming the file
     */
    public InvalidFileException(String message) {
        super(message);
        this.file = null;
    }

    /** The file, or {@code null} when the message names several. */
    public Path file() {
        return file;
    }
}
