package org.distillery.spark.jobs;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.StandardCopyOption;
import java.util.Arrays;
import java.util.Comparator;
import java.util.UUID;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.SparkSession;

import org.distillery.spark.InvalidInputException;

/**
 * Where a job's result goes, on any Hadoop file system: everything is written under a temporary
 * sibling ({@code <out>.tmp-<id>}) and renamed to {@code <out>} only when complete, so the final
 * path holds the old content or the whole new one, never a part. Spark's output committer keeps
 * only one attempt of each task, so retried tasks leave no duplicates. On a local file system a
 * file replaces an older one atomically; elsewhere an older output is deleted just before the
 * rename ({@code --overwrite} only).
 */
final class Output implements AutoCloseable {

    private final Path out;
    private final FileSystem fs;
    private final Path tmp;
    private final boolean overwrite;

    private Output(Path out, FileSystem fs, Path tmp, boolean overwrite) {
        this.out = out;
        this.fs = fs;
        this.tmp = tmp;
        this.overwrite = overwrite;
    }

    /** Checks {@code out} (exit 2 when it exists without {@code --overwrite}) and names the temporary folder. */
    static Output prepare(String out, Configuration conf, boolean overwrite) throws IOException {
        Path p = new Path(out);
        FileSystem fs = p.getFileSystem(conf);
        Path q = fs.makeQualified(p);
        if (fs.exists(q) && !overwrite) {
            throw new InvalidInputException("--out: " + out + " exists (pass --overwrite to replace it)");
        }
        fs.mkdirs(q.getParent());
        Path tmp = new Path(q.getParent(), q.getName() + ".tmp-" + UUID.randomUUID().toString().substring(0, 8));
        return new Output(q, fs, tmp, overwrite);
    }

    /** The final path. */
    Path path() {
        return out;
    }

    /** The temporary folder (created on first use). */
    Path tmp() {
        return tmp;
    }

    /** True when the output is on the local file system. */
    boolean local() {
        return "file".equals(out.toUri().getScheme());
    }

    /**
     * Writes {@code lines} (ordered: partitions in order, lines in order within each) as one JSONL
     * file: Spark writes part files through its committer, then they are joined in order.
     */
    void writeJsonl(SparkSession spark, JavaRDD<String> lines) throws IOException {
        Path parts = new Path(tmp, "parts");
        spark.createDataset(lines.rdd(), Encoders.STRING()).write().text(parts.toString());
        FileStatus[] files = fs.listStatus(parts, p -> p.getName().startsWith("part-"));
        Arrays.sort(files, Comparator.comparing(f -> f.getPath().getName()));
        Path joined = new Path(tmp, out.getName());
        try (OutputStream os = fs.create(joined, true)) {
            byte[] buf = new byte[1 << 16];
            for (FileStatus f : files) {
                try (InputStream in = fs.open(f.getPath())) {
                    int n;
                    while ((n = in.read(buf)) > 0) {
                        os.write(buf, 0, n);
                    }
                }
            }
        }
        commit(joined);
    }

    /** Renames {@code built} (a file or folder under the temporary folder) to the final path. */
    void commit(Path built) throws IOException {
        if (local()) {
            java.nio.file.Path from = java.nio.file.Path.of(URI.create(built.toUri().toString()));
            java.nio.file.Path to = java.nio.file.Path.of(URI.create(out.toUri().toString()));
            if (Files.isDirectory(to) && overwrite) {
                fs.delete(out, true);
            }
            try {
                Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
            }
        } else {
            if (fs.exists(out) && overwrite) {
                fs.delete(out, true);
            }
            if (!fs.rename(built, out)) {
                throw new IOException("could not rename " + built + " to " + out);
            }
        }
    }

    /** Removes the temporary folder (after a commit, or after a failure: the final path is untouched). */
    @Override
    public void close() throws IOException {
        fs.delete(tmp, true);
    }
}
