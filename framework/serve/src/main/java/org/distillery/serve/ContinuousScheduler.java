package org.distillery.serve;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.TimeUnit;

import ai.djl.ndarray.NDManager;

/**
 * The continuous batching scheduler ({@code --scheduler continuous}): decoding requests join the
 * running batch at the next decoding step, as soon as a slot is free, instead of waiting for the
 * batch to end; a row that ends frees its slot at once (see {@link SlotBatch}). Between two steps
 * it runs the queued scoring jobs (one right-padded forward pass) and admits waiting rows, first
 * come first served, up to the number of free slots ({@code max batch size} slots in all).
 */
final class ContinuousScheduler extends Scheduler {

    private final SlotBatch batch;
    /** Jobs taken from the queue and not yet run, first come first; {@link #waiting()} reads it from other threads. */
    private final ConcurrentLinkedDeque<Job> pending = new ConcurrentLinkedDeque<>();

    ContinuousScheduler(BatchDecoder decoder, NDManager manager, int slots, ServerStats stats) {
        super(decoder, manager, slots, stats);
        this.batch = new SlotBatch(decoder, slots);
    }

    @Override
    int waiting() {
        return queue.size() + pending.size();
    }

    @Override
    void loop() {
        try {
            while (running || !queue.isEmpty() || !pending.isEmpty() || batch.occupied() > 0) {
                if (batch.occupied() == 0 && pending.isEmpty()) {
                    Job first = queue.poll(100, TimeUnit.MILLISECONDS);
                    if (first == null) {
                        continue;
                    }
                    pending.add(first);
                }
                queue.drainTo(pending);
                if (!held()) {
                    runScores();
                    admit();
                } else if (batch.occupied() == 0) {
                    Thread.sleep(1);
                }
                if (batch.occupied() > 0) {
                    try {
                        batch.step(manager);
                    } catch (RuntimeException | Error e) {
                        batch.failAll(e);
                    }
                }
            }
        } catch (InterruptedException e) {
            pending.forEach(j -> failJob(j, e));
            pending.clear();
            batch.failAll(e);
        } finally {
            batch.close();
        }
    }

    private void runScores() {
        List<Score> scores = new ArrayList<>();
        for (Iterator<Job> it = pending.iterator(); it.hasNext() && scores.size() < maxBatch; ) {
            if (it.next() instanceof Score s) {
                scores.add(s);
                it.remove();
            }
        }
        if (!scores.isEmpty()) {
            runScores(scores);
        }
    }

    private void admit() {
        List<DecodeRow> joining = new ArrayList<>();
        for (Iterator<Job> it = pending.iterator(); it.hasNext() && joining.size() < batch.free(); ) {
            if (it.next() instanceof Decode d) {
                joining.add(d.row());
                it.remove();
            }
        }
        if (joining.isEmpty()) {
            return;
        }
        stats.batch(joining.size());
        try {
            batch.admit(joining, manager);
        } catch (RuntimeException | Error e) {
            batch.failAll(e);
        }
    }
}
