package org.distillery.spark.input;

import java.io.Serializable;
import java.nio.file.Path;

import org.distillery.api.data.Example;
import org.distillery.data.JsonlDataService;
import org.distillery.data.JsonlFormatException;
import org.distillery.spark.InvalidInputException;

/**
 * One record of the input as read, before parsing: its place in the whole input and its JSON text.
 *
 * @param order the record's index in the input (files in path order, then lines), from 0; the
 *     same as its index in the list {@code JsonlDataService.readJsonl} returns for one file
 * @param split the input partition that read it
 * @param file the file, as a path or URI
 * @param line the 1-based physical line (JSONL, blank lines counted) or row (Parquet)
 * @param text the record's JSON text, or {@code null} when it could not be decoded
 * @param error why the line could not be decoded, or {@code null}
 */
public record SourceLine(long order, int split, String file, long line, String text, String error)
        implements Serializable {

    /** Where the record is, for messages: {@code <file>:<line> (input partition <p>)}; local files as plain paths. */
    public String where() {
        String shown = file.startsWith("file:") ? java.net.URI.create(file).getPath() : file;
        return shown + ":" + line + " (input partition " + split + ")";
    }

    /** The file's name without its folders. */
    public String fileName() {
        int slash = file.lastIndexOf('/');
        return slash < 0 ? file : file.substring(slash + 1);
    }

    /**
     * Parses the record with the project's JSONL parser (the same rules as {@code distill} reading
     * the file; the default id is {@code <file name>:<line>}).
     *
     * @throws InvalidInputException naming file, input partition and line
     */
    public Example parse() {
        if (error != null) {
            throw new InvalidInputException(where() + ": " + error);
        }
        try {
            return JsonlDataService.parseLine(Path.of(fileName()), line, text, fileName() + ":" + line);
        } catch (JsonlFormatException e) {
            throw new InvalidInputException(where() + ": " + e.detail());
        }
    }
}
