package org.distillery.kernel.run;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;

import org.distillery.api.run.EventLog;

/**
 * Appends one JSON object per line to {@code events.jsonl}, flushed after every line so a
 * killed run keeps everything it logged. Listeners (the progress display) see each record.
 */
public final class JsonlEventLog implements EventLog, AutoCloseable {

    private static final Gson GSON = new GsonBuilder().serializeSpecialFloatingPointValues().disableHtmlEscaping()
            .create();

    private final BufferedWriter out;
    private final List<Consumer<Map<String, Object>>> listeners = new ArrayList<>();

    /**
     * Opens (appends to) the log at {@code file}. A last line cut short by a killed process is
     * ended first, so the next record starts on a line of its own.
     */
    public JsonlEventLog(Path file) throws IOException {
        boolean cutShort = endsInsideALine(file);
        this.out = Files.newBufferedWriter(file, StandardCharsets.UTF_8, StandardOpenOption.CREATE,
                StandardOpenOption.APPEND);
        if (cutShort) {
            out.write('\n');
            out.flush();
        }
    }

    private static boolean endsInsideALine(Path file) throws IOException {
        if (!Files.isRegularFile(file) || Files.size(file) == 0) {
            return false;
        }
        try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(file, StandardOpenOption.READ)) {
            java.nio.ByteBuffer last = java.nio.ByteBuffer.allocate(1);
            ch.read(last, ch.size() - 1);
            return last.get(0) != '\n';
        }
    }

    /** Adds a listener that sees every record after it is written. */
    public synchronized void listen(Consumer<Map<String, Object>> listener) {
        listeners.add(listener);
    }

    @Override
    public void event(String type, Map<String, ?> fields) {
        Map<String, Object> rec = new LinkedHashMap<>();
        rec.put("time", Instant.now().toString());
        rec.put("type", type);
        rec.putAll(fields);
        write(rec);
    }

    @Override
    public void step(long step, Map<String, ?> figures) {
        Map<String, Object> rec = new LinkedHashMap<>();
        rec.put("time", Instant.now().toString());
        rec.put("type", "step");
        rec.put("step", step);
        rec.putAll(figures);
        write(rec);
    }

    private synchronized void write(Map<String, Object> rec) {
        try {
            out.write(GSON.toJson(rec));
            out.write('\n');
            out.flush();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write event log", e);
        }
        for (Consumer<Map<String, Object>> l : listeners) {
            l.accept(rec);
        }
    }

    @Override
    public synchronized void close() throws IOException {
        out.close();
    }
}
