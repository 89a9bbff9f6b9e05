package org.distillery.serve;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.TimeUnit;

import ai.djl.ndarray.NDManager;

/**
 * The batching window scheduler ({@code --scheduler window}): it takes the first waiting job,
 * collects whatever else arrives within the batching window (up to the batch size), then runs
 * the scoring jobs as one right-padded forward pass and the decoding jobs as one left-padded
 * batch that runs until its last row ends; requests arriving meanwhile wait for the next batch.
 * Rows keep their own sampling parameters and token budgets (see {@link BatchDecoder}); a
 * decoding job whose prompt plus budget would push the padded batch past the model's context
 * waits for the next batch.
 */
final class WindowScheduler extends Scheduler {

    private final long windowNanos;
    private final int context;
    /** Jobs left out of a batch for the context, and (while held) a job taken from the queue: they go first. */
    private final ConcurrentLinkedDeque<Job> carried = new ConcurrentLinkedDeque<>();

    WindowScheduler(BatchDecoder decoder, NDManager manager, Duration window, int maxBatch, int context,
                    ServerStats stats) {
        super(decoder, manager, maxBatch, stats);
        this.windowNanos = window.toNanos();
        this.context = context;
    }

    @Override
    int waiting() {
        return queue.size() + carried.size();
    }

    @Override
    void loop() {
        while (running || !queue.isEmpty() || !carried.isEmpty()) {
            List<Job> batch = new ArrayList<>();
            try {
                if (held()) {
                    Thread.sleep(1);
                    continue;
                }
                Job first = carried.isEmpty() ? queue.poll(100, TimeUnit.MILLISECONDS) : carried.poll();
                if (first == null) {
                    continue;
                }
                if (held()) {
                    carried.addFirst(first);
                    continue;
                }
                batch.add(first);
                long deadline = System.nanoTime() + windowNanos;
                while (batch.size() < maxBatch) {
                    Job next = carried.poll();
                    if (next == null) {
                        long wait = deadline - System.nanoTime();
                        next = wait > 0 ? queue.poll(wait, TimeUnit.NANOSECONDS) : queue.poll();
                    }
                    if (next == null) {
                        break;
                    }
                    batch.add(next);
                }
            } catch (InterruptedException e) {
                batch.forEach(j -> failJob(j, e));
                break;
            }
            run(batch);
        }
    }

    private void run(List<Job> batch) {
        List<Score> scores = new ArrayList<>();
        List<DecodeRow> rows = new ArrayList<>();
        int longestPrompt = 0;
        int longestBudget = 0;
        for (Job j : batch) {
            if (j instanceof Score s) {
                scores.add(s);
            } else {
                DecodeRow r = ((Decode) j).row();
                int p = Math.max(longestPrompt, r.prompt().length);
                int m = Math.max(longestBudget, r.maxTokens());
                if (!rows.isEmpty() && p + m > context) {
                    carried.add(j);
                    continue;
                }
                longestPrompt = p;
                longestBudget = m;
                rows.add(r);
            }
        }
        if (!scores.isEmpty()) {
            runScores(scores);
        }
        if (!rows.isEmpty()) {
            stats.batch(rows.size());
            try {
                decoder.decode(rows, manager);
            } catch (RuntimeException | Error e) {
                rows.forEach(r -> r.sink().fail(e));
            }
        }
    }
}
