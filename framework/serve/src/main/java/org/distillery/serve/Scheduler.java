package org.distillery.serve;

import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;

import ai.djl.ndarray.NDManager;

/**
 * The one thread that touches the model: it takes jobs from a queue and runs them in batches.
 * {@link WindowScheduler} collects requests within a window and decodes them to completion;
 * {@link ContinuousScheduler} lets requests join the running batch at the next decoding step.
 * Scoring jobs are one right-padded forward pass in both. Build one with {@link #start}.
 */
abstract sealed class Scheduler implements AutoCloseable permits WindowScheduler, ContinuousScheduler {

    /** A job: decode one row, or score one sequence. */
    sealed interface Job permits Decode, Score {
    }

    /** Decode a row; the sink hears the outcome. */
    record Decode(DecodeRow row) implements Job {
    }

    /** Score a sequence with the top {@code k} at each position. */
    record Score(int[] sequence, int k, CompletableFuture<PromptScores> result) implements Job {
    }

    final BatchDecoder decoder;
    final NDManager manager;
    final int maxBatch;
    final ServerStats stats;
    final LinkedBlockingQueue<Job> queue = new LinkedBlockingQueue<>();
    volatile boolean running = true;
    private volatile boolean held;
    private Thread worker;

    Scheduler(BatchDecoder decoder, NDManager manager, int maxBatch, ServerStats stats) {
        this.decoder = decoder;
        this.manager = manager;
        this.maxBatch = maxBatch;
        this.stats = stats;
    }

    /** Builds the scheduler {@code options} ask for and starts its thread. */
    static Scheduler start(ServeOptions options, BatchDecoder decoder, NDManager manager, int context,
                           ServerStats stats) {
        Scheduler s = switch (options.scheduling()) {
            case WINDOW -> new WindowScheduler(decoder, manager, options.batchWindow(), options.maxBatchSize(), context,
                    stats);
            case CONTINUOUS -> new ContinuousScheduler(decoder, manager, options.maxBatchSize(), stats);
        };
        s.worker = new Thread(s::loop, "distill-serve-" + options.scheduling().key());
        s.worker.setDaemon(true);
        s.worker.start();
        return s;
    }

    /** Queues a job; fails it at once when the scheduler is closed. */
    void submit(Job job) {
        if (!running) {
            failJob(job, new IllegalStateException("the server is shutting down"));
            return;
        }
        queue.add(job);
    }

    /** Runs jobs until closed and drained. */
    abstract void loop();

    /** Jobs submitted and not yet taken into a batch. */
    abstract int waiting();

    /**
     * Test hook: while held, no queued job is taken into a batch (running rows go on), so a test
     * can queue several requests and release them together.
     */
    void hold() {
        held = true;
    }

    /** Ends {@link #hold()}. */
    void release() {
        held = false;
    }

    boolean held() {
        return held;
    }

    /** Scores the sequences as one batch and completes their futures (failed together if the pass fails). */
    void runScores(List<Score> scores) {
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

    private static PromptScores trim(PromptScores s, int k) {
        int[][] ids = new int[s.topIds().length][];
        float[][] lps = new float[ids.length][];
        for (int t = 0; t < ids.length; t++) {
            ids[t] = Arrays.copyOf(s.topIds()[t], k);
            lps[t] = Arrays.copyOf(s.topLogProbs()[t], k);
        }
        return new PromptScores(s.logProbs(), ids, lps);
    }

    static void failJob(Job j, Throwable e) {
        if (j instanceof Score s) {
            s.result().completeExceptionally(e);
        } else {
            ((Decode) j).row().sink().fail(e);
        }
    }

    /** Lets queued and running jobs finish (for at most 30 s), then stops the thread and fails what is left. */
    @Override
    public void close() {
        running = false;
        held = false;
        try {
            worker.join(30_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        Job j;
        while ((j = queue.poll()) != null) {
            failJob(j, new IllegalStateException("the server is shutting down"));
        }
    }
}
