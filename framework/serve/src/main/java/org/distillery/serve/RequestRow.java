package org.distillery.serve;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;

import org.distillery.api.model.Tokenizer;

/**
 * The sink of one request's decoding row: keeps the tokens, cuts the text at the first stop
 * string, and queues events for the HTTP thread (one per token, then the end). Text that could
 * still become a stop string, or is an incomplete UTF-8 sequence, is held back until it cannot.
 */
final class RequestRow implements TokenSink {

    /**
     * One generated token as reported.
     *
     * @param id the token id
     * @param logProb its log-probability
     * @param topIds alternatives, best first
     * @param topLogProbs their log-probabilities
     */
    record Entry(int id, float logProb, int[] topIds, float[] topLogProbs) {
    }

    /** An event for the HTTP thread: text that became visible with its token, or the end. */
    record Event(String text, Entry entry, String finishReason, Throwable error) {
    }

    private final Tokenizer tokenizer;
    private final List<String> stops;
    private final int holdBack;
    private final List<Integer> tokens = new ArrayList<>();
    private final List<Entry> entries = new ArrayList<>();
    final LinkedBlockingQueue<Event> events = new LinkedBlockingQueue<>();
    private volatile boolean cancelled;
    private String text = "";
    private int emitted;
    private boolean stopped;

    RequestRow(Tokenizer tokenizer, List<String> stops) {
        this.tokenizer = tokenizer;
        this.stops = stops;
        this.holdBack = stops.stream().mapToInt(String::length).max().orElse(1) - 1;
    }

    /** Ends the row at its next token (the client went away). */
    void cancel() {
        cancelled = true;
    }

    @Override
    public boolean token(int token, float logProb, int[] topIds, float[] topLogProbs) {
        tokens.add(token);
        Entry e = new Entry(token, logProb, topIds, topLogProbs);
        entries.add(e);
        int[] ids = tokens.stream().mapToInt(Integer::intValue).toArray();
        String full = tokenizer.decode(ids);
        int cut = -1;
        for (String s : stops) {
            int at = full.indexOf(s, Math.max(0, emitted - s.length()));
            if (at >= 0 && (cut < 0 || at < cut)) {
                cut = at;
            }
        }
        if (cut >= 0) {
            text = full.substring(0, cut);
            stopped = true;
            events.add(new Event("", e, null, null));
            return false;
        }
        text = full;
        int visible = full.length() - holdBack;
        while (visible > emitted && visible > 0 && full.charAt(visible - 1) == '\uFFFD') {
            visible--;
        }
        String delta = "";
        if (visible > emitted) {
            delta = full.substring(emitted, visible);
            emitted = visible;
        }
        events.add(new Event(delta, e, null, null));
        return !cancelled;
    }

    @Override
    public void finish(String reason) {
        String rest = text.length() > emitted ? text.substring(emitted) : "";
        emitted = text.length();
        events.add(new Event(rest, null, stopped ? "stop" : reason, null));
    }

    @Override
    public void fail(Throwable error) {
        events.add(new Event("", null, null, error));
    }
}
