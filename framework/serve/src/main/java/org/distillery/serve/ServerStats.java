package org.distillery.serve;

import java.util.concurrent.atomic.AtomicLong;

/** Counters of a running server, safe to read from any thread. */
public final class ServerStats {

    private final AtomicLong httpRequests = new AtomicLong();
    private final AtomicLong rejected = new AtomicLong();
    private final AtomicLong batches = new AtomicLong();
    private final AtomicLong batchedRequests = new AtomicLong();
    private final AtomicLong largestBatch = new AtomicLong();
    private final AtomicLong generatedTokens = new AtomicLong();
    private final AtomicLong decodeSteps = new AtomicLong();
    private final AtomicLong rowSteps = new AtomicLong();

    void request() {
        httpRequests.incrementAndGet();
    }

    void reject() {
        rejected.incrementAndGet();
    }

    void batch(int size) {
        batches.incrementAndGet();
        batchedRequests.addAndGet(size);
        largestBatch.accumulateAndGet(size, Math::max);
    }

    void tokens(long n) {
        generatedTokens.addAndGet(n);
    }

    void step(int rows) {
        decodeSteps.incrementAndGet();
        rowSteps.addAndGet(rows);
    }

    /** HTTP requests received, good or bad. */
    public long httpRequests() {
        return httpRequests.get();
    }

    /** Requests answered with a 4xx error. */
    public long rejected() {
        return rejected.get();
    }

    /**
     * Batches admitted: a window batch, a group of requests that joined the continuous batch at
     * the same step, or a scoring batch.
     */
    public long batches() {
        return batches.get();
    }

    /** Requests over all batches. */
    public long batchedRequests() {
        return batchedRequests.get();
    }

    /** Requests in the largest batch so far (see {@link #batches()}). */
    public long largestBatch() {
        return largestBatch.get();
    }

    /** New tokens generated. */
    public long generatedTokens() {
        return generatedTokens.get();
    }

    /** Decoding steps run (one forward pass of a batch, one new token for each of its unfinished rows). */
    public long decodeSteps() {
        return decodeSteps.get();
    }

    /** Unfinished rows over all decoding steps: divided by {@link #decodeSteps()}, how full the batch ran. */
    public long rowSteps() {
        return rowSteps.get();
    }

    @Override
    public String toString() {
        return "requests=" + httpRequests() + " rejected=" + rejected() + " batches=" + batches() + " batched="
                + batchedRequests() + " largest-batch=" + largestBatch() + " steps=" + decodeSteps() + " row-steps="
                + rowSteps() + " tokens=" + generatedTokens();
    }
}
