package org.distillery.serve;

/** Receives one decoding row's tokens from the scheduler's thread; must not block. */
interface TokenSink {

    /**
     * A new token (never an end-of-sequence id).
     *
     * @param token the id
     * @param logProb the model's log-probability of it (temperature 1, before top-p)
     * @param topIds the most likely ids at this step, best first (empty unless asked for)
     * @param topLogProbs their log-probabilities
     * @return false to end the row here (a stop string matched, or the client went away)
     */
    boolean token(int token, float logProb, int[] topIds, float[] topLogProbs);

    /** The row ended: {@code stop} (end of sequence or stop string) or {@code length} (max tokens). */
    void finish(String reason);

    /** The row failed. */
    void fail(Throwable error);
}
