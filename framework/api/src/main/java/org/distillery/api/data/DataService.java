package org.distillery.api.data;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/** Reads and writes datasets; the kernel registers one. */
public interface DataService {

    /**
     * Reads a JSONL file of {@code {prompt, response}}, {@code {messages}} or {@code {text}}
     * records. A bad line fails with its file and line number.
     */
    List<Example> readJsonl(Path file) throws IOException;

    /** Writes records as JSONL atomically (temporary file, then rename). */
    void writeJsonl(Path file, List<Example> examples) throws IOException;
}
