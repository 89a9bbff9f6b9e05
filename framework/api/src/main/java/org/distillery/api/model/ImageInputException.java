package org.distillery.api.model;

import java.nio.file.Path;

/**
 * An image a model was given cannot be used: the file is missing, unreadable or not a PNG/JPEG
 * image, or the input's image tokens do not match the images. Invalid input (exit code 2 on the
 * command line); the message names the file.
 */
public final class ImageInputException extends IllegalArgumentException {

    private static final long serialVersionUID = 1L;

    private final transient Path file;

    /**
     * An error about {@code file}.
     *
     * @param file the image file, or {@code null} when the problem is not one file's
     * @param message what is wrong, naming the file
     */
    public ImageInputException(Path file, String message) {
        super(message);
        this.file = file;
    }

    /** An error about {@code file} caused by {@code cause}. */
    public ImageInputException(Path file, String message, Throwable cause) {
        super(message, cause);
        this.file = file;
    }

    /** The image file the problem is about, or {@code null}. */
    public Path file() {
        return file;
    }
}
