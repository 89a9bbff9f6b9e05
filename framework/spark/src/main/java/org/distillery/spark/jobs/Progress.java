package org.distillery.spark.jobs;

import java.io.PrintStream;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import org.apache.spark.scheduler.AccumulableInfo;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerExecutorMetricsUpdate;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.util.LongAccumulator;

import scala.Tuple4;
import scala.collection.immutable.Seq;
import scala.jdk.javaapi.CollectionConverters;

/**
 * The job's own progress on stderr (Spark's console progress bar is off): records done of the
 * total, records/s and ETA, every few seconds. Tasks count into a named accumulator; the count
 * of finished tasks comes from the accumulator, that of running tasks from the values executors
 * send with their heartbeats, so progress moves while a long task runs, on a cluster too.
 */
final class Progress implements AutoCloseable {

    private final SparkSession spark;
    private final String job;
    private final String unit;
    private final long total;
    private final PrintStream err;
    private final LongAccumulator counter;
    private final Map<Long, Long> running = new ConcurrentHashMap<>();
    private final Listener listener = new Listener();
    private final Thread printer;
    private final long startNanos = System.nanoTime();
    private volatile boolean closed;

    Progress(SparkSession spark, String job, String unit, long total, long everySeconds, PrintStream err) {
        this.spark = spark;
        this.job = job;
        this.unit = unit;
        this.total = total;
        this.err = err;
        this.counter = spark.sparkContext().longAccumulator("distillery." + job + "." + unit);
        spark.sparkContext().addSparkListener(listener);
        this.printer = new Thread(() -> {
            long last = -1;
            while (!closed) {
                try {
                    Thread.sleep(everySeconds * 1000);
                } catch (InterruptedException e) {
                    return;
                }
                long d = done();
                if (d != last && !closed) {
                    err.println(line(d));
                    last = d;
                }
            }
        }, "distillery-progress");
        printer.setDaemon(true);
        if (everySeconds > 0) {
            printer.start();
        }
    }

    /** The accumulator tasks add their records to. */
    LongAccumulator counter() {
        return counter;
    }

    /** Records done: finished tasks' plus running tasks' last reported counts. */
    long done() {
        long d = counter.value();
        for (long v : running.values()) {
            d += v;
        }
        return Math.min(d, total);
    }

    /** Seconds since the job started. */
    double seconds() {
        return (System.nanoTime() - startNanos) / 1e9;
    }

    String line(long d) {
        double s = seconds();
        double rate = s > 0 ? d / s : 0;
        String eta = rate > 0 && d < total ? duration((total - d) / rate) : "-";
        return String.format(Locale.ROOT, "[%s] %,d/%,d %s  %5.1f%%  %.1f %s/s  ETA %s", job, d, total, unit,
                total == 0 ? 100.0 : 100.0 * d / total, rate, unit, eta);
    }

    static String duration(double seconds) {
        long s = Math.round(seconds);
        return s >= 3600 ? String.format(Locale.ROOT, "%dh %02dm", s / 3600, s % 3600 / 60)
                : s >= 60 ? String.format(Locale.ROOT, "%dm %02ds", s / 60, s % 60) : s + "s";
    }

    @Override
    public void close() {
        closed = true;
        printer.interrupt();
        spark.sparkContext().removeSparkListener(listener);
    }

    private final class Listener extends SparkListener {
        @Override
        public void onExecutorMetricsUpdate(SparkListenerExecutorMetricsUpdate update) {
            Seq<Tuple4<Object, Object, Object, Seq<AccumulableInfo>>> updates = update.accumUpdates();
            for (Tuple4<Object, Object, Object, Seq<AccumulableInfo>> t : CollectionConverters.asJava(updates)) {
                for (AccumulableInfo a : CollectionConverters.asJava(t._4())) {
                    if (a.id() == counter.id() && a.update().isDefined() && a.update().get() instanceof Number n) {
                        running.put((Long) t._1(), n.longValue());
                    }
                }
            }
        }

        @Override
        public void onTaskEnd(SparkListenerTaskEnd end) {
            running.remove(end.taskInfo().taskId());
        }
    }
}
