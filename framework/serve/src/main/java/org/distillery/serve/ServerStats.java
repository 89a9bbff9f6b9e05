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

    /** HTTP requests received, good or bad. */
    public long httpRequests() {
        return httpRequests.get();
    }

    /** Requests answered with a 4xx error. */
    public long rejected() {
        return rejected.get();
    }

    /** Decoding or scoring batches run. */
    public long batches() {
        return batches.get();
    }

    /** Requests over all batches. */
    public long batchedRequests() {
        return batchedRequests.get();
    }

    /** Requests in the largest batch so far. */
    public long largestBatch() {
        return largestBatch.get();
    }

    /** New tokens generated. */
    public long generatedTokens() {
        return generatedTokens.get();
    }

    @Override
    public String toString() {
        return "requests=" + httpRequests() + " rejected=" + rejected() + " batches=" + batches() + " batched="
                + batchedRequests() + " largest-batch=" + largestBatch() + " tokens=" + generatedTokens();
    }
}
