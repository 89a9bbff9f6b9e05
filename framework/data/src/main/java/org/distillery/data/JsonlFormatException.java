package org.distillery.data;

import java.nio.file.Path;

import org.distillery.api.InvalidFileException;

/** A bad line in a JSONL file; the message reads {@code <file>:<line>: <what is wrong>}. */
public final class JsonlFormatException extends InvalidFileException {

    private static final long serialVersionUID = 1L;

    /** The file being read (not serialised). */
    private final transient Path file;
    /** The 1-based line number. */
    private final long line;
    /** What is wrong. */
    private final String detail;

    /**
     * Creates the exception.
     *
     * @param file the file being read
     * @param line the 1-based physical line number (blank lines count)
     * @param detail what is wrong with the line
     */
    public JsonlFormatException(Path file, long line, String detail) {
        super(file + ":" + line + ": " + detail);
        this.file = file;
        this.line = line;
        this.detail = detail;
    }

    /** The file being read. */
    @Override
    public Path file() {
        return file;
    }

    /** The 1-based line number of the bad line. */
    public long line() {
        return line;
    }

    /** What is wrong, without the file and line prefix. */
    public String detail() {
        return detail;
    }
}
