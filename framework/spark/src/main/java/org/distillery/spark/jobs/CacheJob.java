package org.distillery.spark.jobs;

import java.io.IOException;
import java.io.PrintStream;
import java.io.Serializable;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.NoSuchElementException;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;

import org.apache.hadoop.fs.Path;
import org.apache.spark.Partitioner;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.storage.StorageLevel;
import org.apache.spark.util.LongAccumulator;

import scala.Tuple2;

import org.distillery.api.data.TokenBatch;
import org.distillery.api.model.ForwardOptions;
import org.distillery.api.model.ModelOutput;
import org.distillery.api.model.Tokenizer;
import org.distillery.spark.InvalidInputException;
import org.distillery.spark.input.Inputs;
import org.distillery.spark.input.RecordCheck;
import org.distillery.spark.input.SourceLine;
import org.distillery.spark.teacher.ExecutorTeachers;
import org.distillery.kit.data.Records;
import org.distillery.teachers.cache.TeacherCacheAssembler;
import org.distillery.teachers.cache.TeacherCacheHeader;
import org.distillery.teachers.cache.TeacherIdentity;
import org.distillery.teachers.cache.ValueType;

/**
 * {@code cache}: the teacher's top-k log-probabilities over a dataset, as the exact file
 * {@code distill teacher cache} writes and {@code teacher.cached} reads.
 *
 * <ol>
 *   <li>Executors tokenise the records as training does ({@link Sequences#encode}) and key each
 *       sequence; identical sequences are kept once (the first in input order).</li>
 *   <li>The distinct sequences are sorted globally into the single-process writer's storage
 *       order (longest first, ties by first appearance) and numbered; consecutive runs of
 *       {@code batch-size} sequences are the teacher's batches, exactly the writer's batches, and
 *       a batch never spans partitions. So every sequence is scored in the same padded batch as
 *       by {@code distill teacher cache}, whatever the partitioning, and the values are the same.</li>
 *   <li>Executors run the teacher (one model per executor JVM) and encode each record with the
 *       writer's encoder into Parquet part files (rank, key, positions, bytes).</li>
 *   <li>The driver assembles the file: it streams the parts in rank order into a local file,
 *       builds the index, writes the header (dataset named and hashed as the single-process
 *       writer does for one local file), and renames the file into place.</li>
 * </ol>
 */
public final class CacheJob {

    /**
     * What to compute.
     *
     * @param teacherDir the teacher's model folder (the same path on every node)
     * @param tokenizerDir the tokenizer training will use, or {@code null} for the teacher's
     * @param k top entries per position
     * @param maxLength tokens per sequence, as the trainer's max-length
     * @param batchSize sequences per teacher forward
     * @param valueType how values are stored; {@code null} for auto (q8 or q4 by the teacher's vocabulary)
     * @param device the executors' device
     */
    public record Options(String teacherDir, String tokenizerDir, int k, int maxLength, int batchSize,
                          ValueType valueType, String device) {

        /** Checks ranges; throws {@link InvalidInputException} naming the option. */
        public Options {
            try {
                org.distillery.tensor.DjlTensorService.checkSpec(device);
            } catch (IllegalArgumentException e) {
                throw new InvalidInputException("--device: " + e.getMessage());
            }
            if (k < 1) {
                throw new InvalidInputException("--k: must be at least 1 (got " + k + ")");
            }
            if (maxLength < 2) {
                throw new InvalidInputException("--max-length: must be at least 2 (got " + maxLength + ")");
            }
            if (batchSize < 1) {
                throw new InvalidInputException("--batch-size: must be at least 1 (got " + batchSize + ")");
            }
        }
    }

    /**
     * What was written.
     *
     * @param file the cache file
     * @param header its header
     * @param seconds wall time of the job
     * @param teacherSeconds wall time of the teacher stage
     */
    public record Summary(String file, TeacherCacheHeader header, double seconds, double teacherSeconds) {
    }

    /** One tokenised record: its input index, its key and its ids. */
    private record Tok(long order, long key, int[] ids) implements Serializable {
    }

    /** Facts about the distinct sequences. */
    private record Stats(long records, long positions, int atMax, int longest) implements Serializable {
        static final Stats ZERO = new Stats(0, 0, 0, 0);

        Stats add(Tok t, int maxLength) {
            return new Stats(records + 1, positions + Math.max(0, t.ids().length - 1),
                    atMax + (t.ids().length >= maxLength ? 1 : 0), Math.max(longest, t.ids().length));
        }

        Stats merge(Stats o) {
            return new Stats(records + o.records, positions + o.positions, atMax + o.atMax, Math.max(longest, o.longest));
        }
    }

    /** What executors need. */
    private record Plan(String teacherDir, String weightsSha256, String tokenizerDir, int vocab, int k, int maxLength,
                        int batchSize, ValueType valueType, String device, Faults faults) implements Serializable {
    }

    /** Keeps each batch in one partition: contiguous runs of batches per partition. */
    private static final class BatchRanges extends Partitioner {
        private static final long serialVersionUID = 1L;
        private final int parts;
        private final int batchSize;
        private final long batches;

        BatchRanges(int parts, int batchSize, long batches) {
            this.parts = parts;
            this.batchSize = batchSize;
            this.batches = Math.max(1, batches);
        }

        @Override
        public int numPartitions() {
            return parts;
        }

        @Override
        public int getPartition(Object key) {
            long batch = (Long) key / batchSize;
            return (int) Math.min(parts - 1, batch * parts / batches);
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof BatchRanges b && b.parts == parts && b.batchSize == batchSize && b.batches == batches;
        }

        @Override
        public int hashCode() {
            return (int) (parts * 31L + batchSize * 17L + batches);
        }
    }

    private static final StructType PARTS = new StructType()
            .add("rank", DataTypes.LongType, false)
            .add("key", DataTypes.LongType, false)
            .add("positions", DataTypes.IntegerType, false)
            .add("bytes", DataTypes.BinaryType, false);

    private CacheJob() {
    }

    /** Runs the job. */
    public static Summary run(SparkSession spark, JobIo io, Options o, PrintStream err) throws IOException {
        long t0 = System.nanoTime();
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        java.nio.file.Path teacherDir = java.nio.file.Path.of(o.teacherDir()).toAbsolutePath().normalize();
        TeacherIdentity identity;
        try {
            identity = TeacherIdentity.of(teacherDir);
        } catch (IOException e) {
            throw new InvalidInputException("--teacher: " + e.getMessage());
        }
        java.nio.file.Path tokDir = o.tokenizerDir() == null ? teacherDir
                : java.nio.file.Path.of(o.tokenizerDir()).toAbsolutePath().normalize();
        Tokenizer tok;
        int vocab;
        try {
            tok = ExecutorTeachers.tokenizer(tokDir.toString());
        } catch (IOException e) {
            throw new InvalidInputException((o.tokenizerDir() == null ? "--teacher: " : "--tokenizer-dir: ")
                    + e.getMessage());
        }
        try {
            vocab = ExecutorTeachers.models().readConfig(teacherDir).vocabSize();
        } catch (IOException e) {
            throw new InvalidInputException("--teacher: " + e.getMessage());
        }
        if (o.k() > vocab) {
            throw new InvalidInputException("--k: exceeds the teacher's vocabulary of " + vocab + " (got " + o.k() + ")");
        }
        Output output = Output.prepare(io.out(), spark.sparkContext().hadoopConfiguration(), io.overwrite());
        ValueType valueType = o.valueType() != null ? o.valueType() : ValueType.parse("auto", vocab);
        Plan plan = new Plan(teacherDir.toString(), identity.weightsSha256(), tokDir.toString(), vocab, o.k(),
                o.maxLength(), o.batchSize(), valueType, o.device(),
                Faults.parse(spark.sparkContext().getConf().get(Faults.KEY, "")));
        try (output; Inputs.Input input = Inputs.open(spark, io.in(), io.inFormat(), io.splitBytes(), RecordCheck.ANY)) {
            String datasetSha = Inputs.sha256(jsc, input.files(), input.conf());
            int parts = io.partitions() > 0 ? io.partitions() : spark.sparkContext().defaultParallelism();
            JavaPairRDD<Long, Tok> unique = input.lines()
                    .mapPartitions(it -> tokenize(it, plan))
                    .mapToPair(t -> new Tuple2<>(t.key(), t))
                    .reduceByKey(CacheJob::first)
                    .persist(StorageLevel.MEMORY_AND_DISK());
            JavaPairRDD<Long, Tok> sorted = null;
            try {
                Stats stats = unique.values().aggregate(Stats.ZERO, (s, t) -> s.add(t, plan.maxLength()), Stats::merge);
                int records = Math.toIntExact(stats.records());
                long batches = (records + o.batchSize() - 1) / o.batchSize();
                sorted = unique.values().mapToPair(t -> new Tuple2<>(storageKey(t, plan.maxLength()), t))
                        .sortByKey(true, parts).persist(StorageLevel.MEMORY_AND_DISK());
                JavaPairRDD<Long, Tok> ranked = sorted.values().zipWithIndex().mapToPair(t -> new Tuple2<>(t._2(), t._1()));
                long teacher0 = System.nanoTime();
                try (Progress progress = new Progress(spark, "cache", "sequences", records, io.progressSeconds(), err)) {
                    LongAccumulator counter = progress.counter();
                    JavaRDD<Row> rows = ranked.repartitionAndSortWithinPartitions(new BatchRanges(parts, o.batchSize(),
                            batches)).mapPartitions(it -> score(it, plan, counter));
                    Path partsDir = new Path(output.tmp(), "parts");
                    spark.createDataFrame(rows, PARTS).write().parquet(partsDir.toString());
                    err.println(progress.line(progress.done()));
                }
                double teacherSeconds = (System.nanoTime() - teacher0) / 1e9;
                TeacherCacheAssembler.Spec spec = new TeacherCacheAssembler.Spec(o.k(), vocab, valueType,
                        o.maxLength(), records, Math.toIntExact(input.records()), stats.positions(), stats.atMax(),
                        stats.longest(), identity, tok.fingerprint(), input.name(), datasetSha);
                TeacherCacheHeader header = assemble(spark, output, spec);
                return new Summary(output.path().toString(), header, (System.nanoTime() - t0) / 1e9, teacherSeconds);
            } finally {
                unique.unpersist(false);
                if (sorted != null) {
                    sorted.unpersist(false);
                }
            }
        }
    }

    private static Tok first(Tok a, Tok b) {
        if (!Arrays.equals(a.ids(), b.ids())) {
            throw new IllegalStateException("records with different tokens share the 64-bit key "
                    + Long.toHexString(a.key()) + " (input records " + (a.order() + 1) + " and " + (b.order() + 1)
                    + "); cannot index them");
        }
        return a.order() <= b.order() ? a : b;
    }

    /** Longest first, then first appearance: the single-process writer's storage order as one long. */
    private static long storageKey(Tok t, int maxLength) {
        if (t.order() >= 1L << 40) {
            throw new IllegalStateException("more than 2^40 input records");
        }
        return ((long) (maxLength - t.ids().length) << 40) | t.order();
    }

    private static Iterator<Tok> tokenize(Iterator<SourceLine> it, Plan plan) throws IOException {
        Tokenizer tok = ExecutorTeachers.tokenizer(plan.tokenizerDir());
        return new Iterator<>() {
            @Override
            public boolean hasNext() {
                return it.hasNext();
            }

            @Override
            public Tok next() {
                SourceLine line = it.next();
                int[] ids = Records.encode(line.parse(), tok, plan.maxLength()).ids();
                for (int id : ids) {
                    if (id < 0 || id >= plan.vocab()) {
                        throw new InvalidInputException(line.where() + ": token id " + id + " is outside the teacher's "
                                + "vocabulary of " + plan.vocab() + " (the tokenizer does not match the teacher)");
                    }
                }
                return new Tok(line.order(), TeacherCacheAssembler.sequenceKey(ids), ids);
            }
        };
    }

    /** Scores whole batches (consecutive ranks) and encodes their records. */
    private static Iterator<Row> score(Iterator<Tuple2<Long, Tok>> it, Plan plan, LongAccumulator counter)
            throws IOException {
        ExecutorTeachers.Loaded teacher = ExecutorTeachers.teacher(plan.teacherDir(), plan.weightsSha256(),
                plan.device());
        Tokenizer tok = ExecutorTeachers.tokenizer(plan.tokenizerDir());
        return new Iterator<>() {
            private final List<Row> ready = new ArrayList<>();
            private int next;
            private Tuple2<Long, Tok> pending;
            private long produced;

            @Override
            public boolean hasNext() {
                if (next < ready.size()) {
                    return true;
                }
                ready.clear();
                next = 0;
                if (pending == null && it.hasNext()) {
                    pending = it.next();
                }
                if (pending == null) {
                    return false;
                }
                long batch = pending._1() / plan.batchSize();
                List<Tuple2<Long, Tok>> rows = new ArrayList<>();
                while (pending != null && pending._1() / plan.batchSize() == batch) {
                    rows.add(pending);
                    pending = it.hasNext() ? it.next() : null;
                }
                forward(rows);
                produced += rows.size();
                counter.add(rows.size());
                plan.faults().check(produced);
                return true;
            }

            @Override
            public Row next() {
                if (!hasNext()) {
                    throw new NoSuchElementException();
                }
                return ready.get(next++);
            }

            private void forward(List<Tuple2<Long, Tok>> rows) {
                List<Records.Encoded> batch = new ArrayList<>(rows.size());
                for (Tuple2<Long, Tok> r : rows) {
                    batch.add(new Records.Encoded(r._2().ids(), 0));
                }
                try (NDManager m = teacher.manager().newSubManager()) {
                    TokenBatch b = Records.batch(batch, tok.padId(), m);
                    ModelOutput mo = teacher.model().forward(b.inputIds(),
                            ForwardOptions.inference().withMask(b.attentionMask()));
                    mo.logits().attach(m);
                    NDArray logProbs = mo.logits().logSoftmax(-1);
                    for (int j = 0; j < rows.size(); j++) {
                        Tok t = rows.get(j)._2();
                        int n = t.ids().length - 1;
                        float[] lp = n <= 0 ? new float[0] : logProbs.get(new NDIndex("{}, :{}", j, n)).toFloatArray();
                        ByteBuffer rec = TeacherCacheAssembler.encodeRecord(lp, Math.max(n, 0), plan.vocab(), plan.k(),
                                plan.valueType());
                        byte[] bytes = new byte[rec.remaining()];
                        rec.get(bytes);
                        ready.add(RowFactory.create(rows.get(j)._1(), t.key(), Math.max(n, 0), bytes));
                    }
                }
            }
        };
    }

    /** Streams the parts in rank order into the cache file and renames it into place. */
    private static TeacherCacheHeader assemble(SparkSession spark, Output output, TeacherCacheAssembler.Spec spec)
            throws IOException {
        Path parts = new Path(output.tmp(), "parts");
        java.nio.file.Path localDir = output.local()
                ? java.nio.file.Path.of(URI.create(output.tmp().toUri().toString()))
                : Files.createTempDirectory("distill-spark-cache");
        java.nio.file.Path file = localDir.resolve(output.path().getName());
        TeacherCacheHeader header;
        try (TeacherCacheAssembler a = TeacherCacheAssembler.create(file, spec)) {
            Iterator<Row> rows = spark.read().parquet(parts.toString()).orderBy("rank").toLocalIterator();
            long expected = 0;
            while (rows.hasNext()) {
                Row r = rows.next();
                if (r.getLong(0) != expected) {
                    throw new IllegalStateException("part files hold rank " + r.getLong(0) + " where " + expected
                            + " was expected");
                }
                a.append(r.getLong(1), r.getInt(2), ByteBuffer.wrap((byte[]) r.get(3)));
                expected++;
            }
            a.finish();
            header = a.header();
        }
        Path built = new Path(output.tmp(), output.path().getName());
        if (!output.local()) {
            output.path().getFileSystem(spark.sparkContext().hadoopConfiguration())
                    .copyFromLocalFile(true, true, new Path(file.toUri()), built);
            Files.deleteIfExists(localDir);
        }
        output.commit(built);
        return header;
    }

    /** Prints the summary as {@code distill teacher cache} does. */
    static void print(Summary s, PrintStream out) {
        TeacherCacheHeader h = s.header();
        out.printf(Locale.ROOT, "teacher cache written to %s%n", s.file());
        out.printf(Locale.ROOT, "  records      %d (%d distinct sequences, %d reach max-length %d)%n", h.examples(),
                h.records(), h.atMaxLength(), h.maxLength());
        out.printf(Locale.ROOT, "  positions    %d (top %d, %s)%n", h.positions(), h.k(), h.encoding());
        out.printf(Locale.ROOT, "  size         %,d bytes: %.1f bytes/token in records (%.2f per top-k entry), %.1f "
                + "bytes/token with index and header%n", h.fileBytes(), h.recordBytesPerToken(), h.bytesPerEntry(),
                h.bytesPerToken());
        out.printf(Locale.ROOT, "  tokenizer    %s%n", h.tokenizerFingerprint());
        out.printf(Locale.ROOT, "  time         %.1f s (teacher stage %.1f s: %.1f sequences/s, %.0f tokens/s)%n",
                s.seconds(), s.teacherSeconds(), h.records() / Math.max(1e-9, s.teacherSeconds()),
                h.positions() / Math.max(1e-9, s.teacherSeconds()));
    }
}
