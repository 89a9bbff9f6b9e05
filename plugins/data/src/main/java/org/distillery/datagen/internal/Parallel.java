package org.distillery.datagen.internal;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntFunction;

/**
 * Runs independent requests concurrently and returns their answers in request order, so that what
 * is kept does not depend on which answer arrived first.
 */
final class Parallel implements AutoCloseable {

    private final ExecutorService pool;

    Parallel(int threads) {
        AtomicInteger n = new AtomicInteger();
        this.pool = Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, "distill-data-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
    }

    /** {@code task(0..count-1)}, in index order; the first failure is rethrown. */
    <T> List<T> map(int count, IntFunction<T> task) {
        List<Future<T>> futures = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            int index = i;
            futures.add(pool.submit(() -> task.apply(index)));
        }
        List<T> out = new ArrayList<>(count);
        try {
            for (Future<T> f : futures) {
                out.add(f.get());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            futures.forEach(f -> f.cancel(true));
            throw new IllegalStateException("interrupted", e);
        } catch (ExecutionException e) {
            futures.forEach(f -> f.cancel(true));
            Throwable c = e.getCause();
            if (c instanceof RuntimeException r) {
                throw r;
            }
            throw new IllegalStateException(c.getMessage(), c);
        }
        return out;
    }

    @Override
    public void close() {
        pool.shutdownNow();
    }
}
