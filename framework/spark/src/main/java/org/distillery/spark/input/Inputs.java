package org.distillery.spark.input;

import java.io.IOException;
import java.io.InputStream;
import java.io.Serializable;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.storage.StorageLevel;

import scala.Tuple2;

import org.distillery.api.data.Example;
import org.distillery.spark.InvalidInputException;

/**
 * The input of a job: JSONL or Parquet files, folders of them, or globs, on any Hadoop file
 * system ({@code file:}, {@code hdfs:}, {@code s3a:} with its connector). Every record is checked
 * before any teacher work: a malformed line, a record the job cannot use, or an id used twice
 * fails with {@link InvalidInputException} naming file, input partition and line (the first bad
 * record in input order, so the message does not depend on partitioning).
 */
public final class Inputs {

    /** Input formats. */
    public enum Format {
        /** Decided by the file names: {@code .parquet} files are Parquet, everything else JSONL. */
        AUTO,
        /** One JSON record per line. */
        JSONL,
        /** Parquet with the record's columns. */
        PARQUET
    }

    /**
     * A checked input.
     *
     * @param lines the records, persisted until {@link #close}
     * @param records how many
     * @param files the files read, in order
     * @param name how the input is named in outputs (one local file: its absolute path)
     * @param conf the Hadoop configuration tasks open files with
     */
    public record Input(JavaRDD<SourceLine> lines, long records, List<String> files, String name, HadoopConf conf)
            implements AutoCloseable {
        @Override
        public void close() {
            lines.unpersist(false);
        }
    }

    private Inputs() {
    }

    /**
     * Finds, reads and checks the input.
     *
     * @param spark the session
     * @param specs paths, folders or globs
     * @param format the format, or AUTO
     * @param splitBytes bytes per JSONL input partition
     * @param check the job's demand on each record
     */
    public static Input open(SparkSession spark, List<String> specs, Format format, long splitBytes,
                             RecordCheck check) throws IOException {
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        Configuration hadoop = jsc.hadoopConfiguration();
        HadoopConf conf = HadoopConf.of(hadoop);
        List<FileStatus> files = list(specs, hadoop);
        List<String> paths = files.stream().map(f -> f.getPath().toString()).toList();
        boolean parquet = switch (format) {
            case PARQUET -> true;
            case JSONL -> false;
            case AUTO -> paths.stream().allMatch(p -> p.endsWith(".parquet"));
        };
        JavaRDD<SourceLine> lines = parquet ? ParquetInput.read(spark, paths)
                : JsonlSplits.read(jsc, paths, files.stream().map(FileStatus::getLen).toList(), splitBytes, conf);
        lines = lines.persist(StorageLevel.MEMORY_AND_DISK());
        try {
            long n = check(lines, check);
            return new Input(lines, n, paths, name(specs, paths), conf);
        } catch (RuntimeException e) {
            lines.unpersist(false);
            throw e;
        }
    }

    private static List<FileStatus> list(List<String> specs, Configuration hadoop) throws IOException {
        List<FileStatus> out = new ArrayList<>();
        for (String spec : specs) {
            Path p = new Path(spec);
            FileSystem fs = p.getFileSystem(hadoop);
            FileStatus[] matched = fs.globStatus(p);
            if (matched == null || matched.length == 0) {
                throw new InvalidInputException("--in: no such file or folder (got \"" + spec + "\")");
            }
            List<FileStatus> found = new ArrayList<>();
            for (FileStatus s : matched) {
                if (s.isDirectory()) {
                    for (FileStatus c : fs.listStatus(s.getPath())) {
                        String n = c.getPath().getName();
                        if (c.isFile() && !n.startsWith(".") && !n.startsWith("_")) {
                            found.add(c);
                        }
                    }
                } else {
                    found.add(s);
                }
            }
            found.sort(Comparator.comparing(s -> s.getPath().toString()));
            if (found.isEmpty()) {
                throw new InvalidInputException("--in: no files in \"" + spec + "\"");
            }
            out.addAll(found);
        }
        return out;
    }

    /** One local file: its absolute, normalised path (as {@code distill teacher cache} names it); else the specs. */
    private static String name(List<String> specs, List<String> paths) {
        if (specs.size() == 1 && paths.size() == 1) {
            URI u = new Path(specs.get(0)).toUri();
            if (u.getScheme() == null || u.getScheme().equals("file")) {
                return java.nio.file.Path.of(u.getPath()).toAbsolutePath().normalize().toString();
            }
            return paths.get(0);
        }
        return String.join(",", specs);
    }

    /** A bad record, for the first-in-order search. */
    private record Problem(long order, String message) implements Serializable {
    }

    /** Where an id was seen, the first two times. */
    private record Seen(long order, String where, long secondOrder, String secondWhere) implements Serializable {
        Seen merge(Seen o) {
            Seen a = order <= o.order ? this : o;
            Seen b = a == this ? o : this;
            long second = Math.min(a.secondOrder, b.order);
            String secondWhere = a.secondOrder <= b.order ? a.secondWhere : b.where;
            return new Seen(a.order, a.where, second, secondWhere);
        }
    }

    private static final class ByOrder implements Comparator<Problem>, Serializable {
        @Override
        public int compare(Problem a, Problem b) {
            return Long.compare(a.order, b.order);
        }
    }

    private static final class BySecond implements Comparator<Tuple2<String, Seen>>, Serializable {
        @Override
        public int compare(Tuple2<String, Seen> a, Tuple2<String, Seen> b) {
            return Long.compare(a._2().secondOrder, b._2().secondOrder);
        }
    }

    /** Parses every record; throws for the first bad one in input order; returns the count. */
    private static long check(JavaRDD<SourceLine> lines, RecordCheck check) {
        List<Problem> bad = lines.flatMap(l -> {
            try {
                Example e = l.parse();
                String p = check.problem(e);
                return p == null ? List.<Problem>of().iterator()
                        : List.of(new Problem(l.order(), l.where() + ": " + p)).iterator();
            } catch (InvalidInputException e) {
                return List.of(new Problem(l.order(), e.getMessage())).iterator();
            }
        }).takeOrdered(1, new ByOrder());
        if (!bad.isEmpty()) {
            throw new InvalidInputException(bad.get(0).message());
        }
        List<Tuple2<String, Seen>> dup = lines
                .mapToPair(l -> new Tuple2<>(l.parse().id(), new Seen(l.order(), l.where(), Long.MAX_VALUE, null)))
                .reduceByKey(Seen::merge)
                .filter(t -> t._2().secondWhere() != null)
                .takeOrdered(1, new BySecond());
        if (!dup.isEmpty()) {
            Seen s = dup.get(0)._2();
            throw new InvalidInputException(s.secondWhere() + ": duplicate id \"" + dup.get(0)._1()
                    + "\" (first used at " + s.where() + ")");
        }
        long n = lines.count();
        if (n == 0) {
            throw new InvalidInputException("--in: no records");
        }
        return n;
    }

    /**
     * SHA-256 of the input, computed in tasks: of the file for one file (as
     * {@code distill teacher cache} records it), else of the lines {@code <sha256> <path>\n} in
     * path order.
     */
    public static String sha256(JavaSparkContext jsc, List<String> files, HadoopConf conf) {
        List<String> each = jsc.parallelize(files, Math.max(1, files.size())).map(f -> sha256(f, conf)).collect();
        if (each.size() == 1) {
            return each.get(0);
        }
        MessageDigest md = digest();
        for (int i = 0; i < files.size(); i++) {
            md.update((each.get(i) + " " + files.get(i) + "\n").getBytes(StandardCharsets.UTF_8));
        }
        return HexFormat.of().formatHex(md.digest());
    }

    private static String sha256(String file, HadoopConf conf) throws IOException {
        Path p = new Path(file);
        MessageDigest md = digest();
        try (InputStream in = p.getFileSystem(conf.get()).open(p)) {
            byte[] buf = new byte[1 << 16];
            int n;
            while ((n = in.read(buf)) > 0) {
                md.update(buf, 0, n);
            }
        }
        return HexFormat.of().formatHex(md.digest());
    }

    private static MessageDigest digest() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Parses {@code auto}, {@code jsonl} or {@code parquet}. */
    public static Format format(String s) {
        try {
            return Format.valueOf(s.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new InvalidInputException("--in-format: unknown format (got \"" + s + "\"; accepted: auto, jsonl, "
                    + "parquet)");
        }
    }
}
