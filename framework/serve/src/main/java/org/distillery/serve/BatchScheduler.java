package org.distillery.serve;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import ai.djl.ndarray.NDManager;

/**
 * The one thread that touches the model. It takes the first waiting job, collects whatever else
 * arrives within the batching window (up to the batch size), then runs the scoring jobs as one
 * right-padded forward pass and the decoding jobs as one left-padded batch. Rows keep their own
 * sampling parameters and token budgets (see {@link BatchDecoder}); a decoding job whose prompt
 * plus budget would push the padded batch past the model's context waits for the next batch.
 */
final class BatchScheduler implements AutoCloseable {

    /** A job: decode one row, or score one sequence. */
    sealed interface Job permits Decode, Score {
    }

    /** Decode a row; the sink hears the outcome. */
    record Decode(DecodeRow row) implements Job {
    }

    /** Score a sequence with the top {@code k} at each position. */
    record Score(int[] sequence, int k, CompletableFuture<PromptScores> result) implements Job {
    }

    private final BatchDecoder decoder;
    private final NDManager manager;
    private final long windowNanos;
    private final int maxBatch;
    private final int context;
    private final ServerStats stats;
    private final LinkedBlockingQueue<Job> queue = new LinkedBlockingQueue<>();
    private final ArrayDeque<Job> carried = new ArrayDeque<>();
    private final Thread worker;
    private volatile boolean running = true;

    BatchScheduler(BatchDecoder decoder, NDManager manager, Duration window, int maxBatch, int context,
                   ServerStats stats) {
        this.decoder = decoder;
        this.manager = manager;
        this.windowNanos = window.toNanos();
        this.maxBatch = maxBatch;
        this.context = context;
        this.stats = stats;
        this.worker = new Thread(this::loop, "distill-serve-batcher");
        worker.setDaemon(true);
        worker.start();
    }

    /** Queues a job; fails it at once when the scheduler is closed. */
    void submit(Job job) {
        if (!running) {
            failJob(job, new IllegalStateException("the server is shutting down"));
            return;
        }
        queue.add(job);
    }

    private void loop() {
        while (running || !queue.isEmpty() || !carried.isEmpty()) {
            List<Job> batch = new ArrayList<>();
            try {
                Job first = carried.isEmpty() ? queue.poll(100, TimeUnit.MILLISECONDS) : carried.poll();
                if (first == null) {
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
            stats.batch(scores.size());
            try {
                List<int[]> seqs = scores.stream().map(Score::sequence).toList();
                int k = scores.stream().mapToInt(Score::k).max().orElse(1);
                List<PromptScores> out = decoder.score(seqs, k, manager);
                for (int i = 0; i < scores.size(); i++) {
                    scores.get(i).result().complete(trim(out.get(i), scores.get(i).k()));
                }
            } catch (RuntimeException | Error e) {
                scores.forEach(s -> s.result().completeExceptionally(e));
            }
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

    private static PromptScores trim(PromptScores s, int k) {
        int[][] ids = new int[s.topIds().length][];
        float[][] lps = new float[ids.length][];
        for (int t = 0; t < ids.length; t++) {
            ids[t] = java.util.Arrays.copyOf(s.topIds()[t], k);
            lps[t] = java.util.Arrays.copyOf(s.topLogProbs()[t], k);
        }
        return new PromptScores(s.logProbs(), ids, lps);
    }

    private static void failJob(Job j, Throwable e) {
        if (j instanceof Score s) {
            s.result().completeExceptionally(e);
        } else {
            ((Decode) j).row().sink().fail(e);
        }
    }

    /** Lets queued jobs finish, then stops the thread (waits at most {@code grace}). */
    @Override
    public void close() {
        running = false;
        try {
            worker.join(Math.max(1, 30_000));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        Job j;
        while ((j = queue.poll()) != null) {
            failJob(j, new IllegalStateException("the server is shutting down"));
        }
    }
}
