package org.distillery.teachers.cache;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Random;

import ai.djl.ndarray.NDManager;

import org.distillery.api.data.Example;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.Tokenizer;

/**
 * {@code distill bench cache}: the teacher cache's formats side by side on the same teacher and
 * records: fp32 (format 1, exact float copies: the reference), fp16 (format 1), q8 and q4 (format 2).
 * For each it prints the file's bytes per token, the record bytes per top-k entry, the error of
 * the stored log-probabilities against fp32 (mean and largest absolute difference over the top-k
 * entries, and the mean KL divergence of the fp32 top-k-plus-rest distribution from the stored one),
 * and the decode speed of {@link TeacherCacheReader#read} over every record (after a warm-up of five
 * million entries per format, best of {@code repeats} passes; the passes of the formats are interleaved). Then, for larger vocabularies, the
 * bytes per entry of synthetic rows whose top-k ids are spread evenly over the vocabulary (the worst
 * case for format 2's id coding; real distributions cluster on frequent ids), in q8 and q4.
 */
public final class CacheBench {

    private static final ValueType[] TYPES = {ValueType.FP32, ValueType.FP16, ValueType.Q8, ValueType.Q4};
    /** The goal of bytes per top-k entry for the compact types. */
    private static final double GOAL = 2;

    private CacheBench() {
    }

    /**
     * What to measure.
     *
     * @param k top entries per position
     * @param maxLength tokens per sequence
     * @param batchSize sequences per teacher forward
     * @param repeats decode passes per format; the best is printed
     * @param vocabularies synthetic vocabulary sizes
     */
    public record Options(int k, int maxLength, int batchSize, int repeats, int[] vocabularies) {

        /** k 32, max-length 128, batches of 8, 3 decode passes, vocabularies 32,000 and 151,936. */
        public static Options defaults() {
            return new Options(32, 128, 8, 3, new int[] {32_000, 151_936});
        }

        /** Checks the ranges. */
        public Options {
            if (k < 1 || maxLength < 2 || batchSize < 1 || repeats < 1) {
                throw new IllegalArgumentException("k, batch size and repeats must be at least 1, max-length at least 2");
            }
        }
    }

    /**
     * Writes the three caches of {@code examples} into {@code dir}, then measures and prints.
     *
     * @param teacher the teacher (its folder named by {@code identity})
     * @param dataset the records' file, recorded in the headers
     */
    public static void run(PrintStream out, LanguageModel teacher, TeacherIdentity identity, Tokenizer tok,
                           List<Example> examples, Path dataset, Path dir, Options o, NDManager manager)
            throws IOException {
        out.printf(Locale.ROOT, "distill bench cache: teacher %s (vocabulary %d), %d records of %s, k %d, "
                        + "max-length %d%n", identity.modelDir(), teacher.config().vocabSize(), examples.size(), dataset,
                o.k(), o.maxLength());
        Path[] files = new Path[TYPES.length];
        TeacherCacheHeader[] headers = new TeacherCacheHeader[TYPES.length];
        long[] writeMillis = new long[TYPES.length];
        for (int i = 0; i < TYPES.length; i++) {
            files[i] = dir.resolve("bench-" + TYPES[i].name().toLowerCase(Locale.ROOT) + ".cache");
            TeacherCacheWriter.Summary s = TeacherCacheWriter.write(teacher, identity, tok, examples, dataset, files[i],
                    new TeacherCacheWriter.Options(o.k(), o.maxLength(), o.batchSize(), TYPES[i]), manager, null);
            headers[i] = s.header();
            writeMillis[i] = s.millis();
        }
        TeacherCacheReader[] readers = new TeacherCacheReader[TYPES.length];
        try {
            double[][] errors = new double[TYPES.length][];
            for (int i = 0; i < TYPES.length; i++) {
                readers[i] = TeacherCacheReader.open(files[i]);
                errors[i] = i == 0 ? new double[3] : errors(readers[0], readers[i]);
            }
            double[] entriesPerSecond = decodeSpeed(readers, o.repeats());
            long positions = headers[0].positions();
            out.printf(Locale.ROOT, "%d positions in %d distinct sequences; decode: TeacherCacheReader.read of every "
                    + "record, best of %d passes%n", positions, headers[0].records(), o.repeats());
            out.printf(Locale.ROOT, "%-6s %6s %10s %11s %9s %12s %12s %12s %14s %10s%n", "format", "version",
                    "file bytes", "bytes/token", "bytes/entry", "vs fp16", "mean |dlogp|", "max |dlogp|",
                    "mean KL(fp32||x)", "Mentries/s");
            for (int i = 0; i < TYPES.length; i++) {
                TeacherCacheHeader h = headers[i];
                out.printf(Locale.ROOT, "%-6s %6d %,10d %11.1f %9.3f %11.2fx %12.2e %12.2e %14.2e %10.1f%n",
                        TYPES[i].name().toLowerCase(Locale.ROOT), h.version(), h.fileBytes(), h.bytesPerToken(),
                        h.bytesPerEntry(), h.bytesPerToken() / headers[1].bytesPerToken(), errors[i][0], errors[i][1],
                        errors[i][2], entriesPerSecond[i] / 1e6);
            }
            out.printf(Locale.ROOT, "bytes/entry: record bytes per top-k entry (each position's rest mass and header "
                    + "shared among its k); goal (<= %.0f) for q8: %s, for q4: %s%n", GOAL,
                    headers[2].bytesPerEntry() <= GOAL ? "met" : "NOT met",
                    headers[3].bytesPerEntry() <= GOAL ? "met" : "NOT met");
            StringBuilder times = new StringBuilder();
            for (int i = 0; i < TYPES.length; i++) {
                times.append(i == 0 ? " " : ", ").append(TYPES[i].name().toLowerCase(Locale.ROOT))
                        .append(String.format(Locale.ROOT, " %.1f s", writeMillis[i] / 1e3));
            }
            out.printf(Locale.ROOT, "write time (teacher forward + encoding + file):%s%n", times);
        } finally {
            for (TeacherCacheReader r : readers) {
                if (r != null) {
                    r.close();
                }
            }
        }
        out.printf(Locale.ROOT, "%nsynthetic rows (log-softmax of random logits: top-k ids spread evenly over the "
                + "vocabulary, the worst case for format 2's id coding), k %d:%n", o.k());
        out.printf(Locale.ROOT, "%10s %16s %14s %14s %10s %13s %13s%n", "vocabulary", "fp16 bytes/entry",
                "q8 bytes/entry", "q4 bytes/entry", "q4 / fp16", "q8 Mentries/s", "q4 Mentries/s");
        for (int vocab : o.vocabularies()) {
            double[] q8 = synthetic(vocab, o.k(), o.repeats(), ValueType.Q8);
            double[] q4 = synthetic(vocab, o.k(), o.repeats(), ValueType.Q4);
            double fp16 = CacheFormat.stride(o.k(), CacheFormat.idBytes(vocab), 2) / (double) o.k();
            out.printf(Locale.ROOT, "%,10d %16.3f %14.3f %14.3f %9.2fx %13.1f %13.1f%n", vocab, fp16, q8[0], q4[0],
                    q4[0] / fp16, q8[1] / 1e6, q4[1] / 1e6);
        }
        for (Path f : files) {
            Files.deleteIfExists(f);
        }
    }

    /** Mean and largest |difference| of the top-k log-probabilities, and the mean KL over k+1 bins. */
    private static double[] errors(TeacherCacheReader reference, TeacherCacheReader other) throws IOException {
        int k = reference.header().k();
        double sumAbs = 0;
        double maxAbs = 0;
        double sumKl = 0;
        long entries = 0;
        long positions = 0;
        for (int e = 0; e < reference.header().records(); e++) {
            int n = reference.positions(e);
            long[] ids = new long[n * k];
            float[] lp = new float[n * k];
            float[] rest = new float[n];
            reference.read(e, n, ids, lp, 0, rest, 0, CachedTeacher.FLOOR);
            // the same sequence in the other file: its index order is the same (sorted by key)
            long[] ids2 = new long[n * k];
            float[] lp2 = new float[n * k];
            float[] rest2 = new float[n];
            other.read(e, n, ids2, lp2, 0, rest2, 0, CachedTeacher.FLOOR);
            for (int t = 0; t < n; t++) {
                double pRest = Math.exp(rest[t]);
                double qRest = Math.exp(rest2[t]);
                double pSum = pRest;
                double qSum = qRest;
                for (int j = 0; j < k; j++) {
                    pSum += Math.exp(lp[t * k + j]);
                    qSum += Math.exp(lp2[t * k + j]);
                }
                double kl = pRest > 0 && qRest > 0 ? pRest / pSum * Math.log(pRest / pSum / (qRest / qSum)) : 0;
                for (int j = 0; j < k; j++) {
                    int q = find(ids2, t * k, k, ids[t * k + j]);
                    double a = lp[t * k + j];
                    double b = q < 0 ? Math.log(qRest / qSum) : lp2[q];
                    double d = Math.abs(a - b);
                    sumAbs += d;
                    maxAbs = Math.max(maxAbs, d);
                    entries++;
                    double p = Math.exp(a) / pSum;
                    kl += p * (a - Math.log(pSum) - (b - Math.log(qSum)));
                }
                sumKl += kl;
                positions++;
            }
        }
        return new double[] {sumAbs / Math.max(1, entries), maxAbs, sumKl / Math.max(1, positions)};
    }

    private static int find(long[] ids, int from, int k, long id) {
        for (int j = from; j < from + k; j++) {
            if (ids[j] == id) {
                return j;
            }
        }
        return -1;
    }

    /** Top-k entries decoded per second, per reader (interleaved passes, best of {@code repeats}). */
    private static double[] decodeSpeed(TeacherCacheReader[] readers, int repeats) throws IOException {
        double[] best = new double[readers.length];
        int k = readers[0].header().k();
        int longest = Math.max(1, readers[0].header().maxLength());
        long[] ids = new long[longest * k];
        float[] lp = new float[longest * k];
        float[] rest = new float[longest];
        // warm-up: at least 5 million entries of each format, so that the JIT has compiled the decoders
        for (TeacherCacheReader r : readers) {
            for (long entries = 0; entries < 5_000_000; ) {
                entries += decodeAll(r, ids, lp, rest);
            }
        }
        for (int pass = 0; pass < repeats; pass++) {
            for (int i = 0; i < readers.length; i++) {
                long t0 = System.nanoTime();
                long entries = decodeAll(readers[i], ids, lp, rest);
                best[i] = Math.max(best[i], entries / ((System.nanoTime() - t0) / 1e9));
            }
        }
        return best;
    }

    /** Reads every record of {@code r}; returns the entries decoded. */
    private static long decodeAll(TeacherCacheReader r, long[] ids, float[] lp, float[] rest) throws IOException {
        int k = r.header().k();
        long entries = 0;
        for (int e = 0; e < r.header().records(); e++) {
            int n = r.positions(e);
            r.read(e, n, ids, lp, 0, rest, 0, CachedTeacher.FLOOR);
            entries += (long) n * k;
        }
        return entries;
    }

    /** A compact type's bytes per entry and decode rate (entries/s) on 256 synthetic positions of {@code vocab} ids. */
    private static double[] synthetic(int vocab, int k, int repeats, ValueType vt) throws IOException {
        int n = 256;
        Random random = new Random(vocab);
        float[] lp = new float[n * vocab];
        for (int t = 0; t < n; t++) {
            double max = Double.NEGATIVE_INFINITY;
            for (int v = 0; v < vocab; v++) {
                lp[t * vocab + v] = (float) (random.nextGaussian() * 2);
                max = Math.max(max, lp[t * vocab + v]);
            }
            double sum = 0;
            for (int v = 0; v < vocab; v++) {
                sum += Math.exp(lp[t * vocab + v] - max);
            }
            float norm = (float) (max + Math.log(sum));
            for (int v = 0; v < vocab; v++) {
                lp[t * vocab + v] -= norm;
            }
        }
        java.nio.ByteBuffer rec = RecordCodec.encode(lp, n, vocab, k, 0, vt);
        int len = rec.remaining();
        long[] ids = new long[n * k];
        float[] values = new float[n * k];
        float[] rest = new float[n];
        double bestRate = 0;
        for (int rep = 0; rep < 600; rep++) { // warm-up: about 5 million entries
            RecordCodec.decodeV2(rec, 0, len, n, k, vocab, vt, ids, values, 0, rest, 0, CachedTeacher.FLOOR, "synthetic");
        }
        for (int pass = 0; pass < repeats; pass++) {
            long t0 = System.nanoTime();
            for (int rep = 0; rep < 100; rep++) {
                RecordCodec.decodeV2(rec, 0, len, n, k, vocab, vt, ids, values, 0, rest, 0, CachedTeacher.FLOOR, "synthetic");
            }
            bestRate = Math.max(bestRate, 100.0 * n * k / ((System.nanoTime() - t0) / 1e9));
        }
        return new double[] {(double) len / ((long) n * k), bestRate};
    }
}
