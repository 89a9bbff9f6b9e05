package org.distillery.teachers.cache;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;

import org.distillery.api.data.Example;
import org.distillery.api.data.TokenBatch;
import org.distillery.api.model.ForwardOptions;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.ModelOutput;
import org.distillery.api.model.Tokenizer;
import org.distillery.kit.data.Records;

/**
 * Computes a teacher cache: tokenises a dataset exactly as training does
 * ({@link Records#encode} with the same max-length), runs the teacher over it in batches
 * (inference mode, no gradients), keeps for every input position the top k log-probabilities
 * (log-softmax of the logits, ties broken by lower id) and the log of the mass outside them
 * (a log-sum-exp over the other ids, in double precision), and writes the file atomically.
 * Identical sequences are stored once.
 */
public final class TeacherCacheWriter {

    /**
     * What to compute.
     *
     * @param k top entries per position
     * @param maxLength tokens per sequence, as the trainer's {@code max-length}
     * @param batchSize sequences per teacher forward
     * @param valueType how log-probabilities are stored
     */
    public record Options(int k, int maxLength, int batchSize, ValueType valueType) {

        /** k = 32, max-length 128, batches of 8, fp16. */
        public static Options defaults() {
            return new Options(32, 128, 8, ValueType.FP16);
        }

        /** Checks the ranges. */
        public Options {
            if (k < 1) {
                throw new IllegalArgumentException("k must be at least 1 (got " + k + ")");
            }
            if (maxLength < 2) {
                throw new IllegalArgumentException("max-length must be at least 2 (got " + maxLength + ")");
            }
            if (batchSize < 1) {
                throw new IllegalArgumentException("batch-size must be at least 1 (got " + batchSize + ")");
            }
            if (valueType == null) {
                throw new IllegalArgumentException("value type is required (fp16, fp32, q8 or q4)");
            }
        }
    }

    /**
     * What was written.
     *
     * @param file the cache file
     * @param header its header
     * @param millis wall time
     */
    public record Summary(Path file, TeacherCacheHeader header, long millis) {

        /** Whole-file bytes per stored position. */
        public double bytesPerToken() {
            return header.bytesPerToken();
        }
    }

    /** Told after each batch. */
    @FunctionalInterface
    public interface Progress {
        /** {@code done} of {@code total} distinct sequences are written. */
        void update(int done, int total);
    }

    private TeacherCacheWriter() {
    }

    /**
     * Writes the cache of {@code examples} to {@code out}.
     *
     * @param teacher the teacher model (its vocabulary is the logits' last dimension)
     * @param identity the teacher's folder and weights hash, recorded in the header
     * @param tok the tokenizer training will use
     * @param examples the dataset's records
     * @param dataset the dataset file, hashed into the header, or {@code null}
     * @param out the cache file, replaced atomically
     * @param options k, max-length, batch size, value type
     * @param manager parent of the per-batch managers
     * @param progress told after each batch, or {@code null}
     */
    public static Summary write(LanguageModel teacher, TeacherIdentity identity, Tokenizer tok, List<Example> examples,
                                Path dataset, Path out, Options options, NDManager manager, Progress progress)
            throws IOException {
        long t0 = System.nanoTime();
        int vocab = teacher.config().vocabSize();
        int k = options.k();
        if (k > vocab) {
            throw new IllegalArgumentException("k = " + k + " exceeds the teacher's vocabulary of " + vocab);
        }
        // Tokenise and keep distinct sequences, in the order they first appear.
        List<int[]> unique = new ArrayList<>();
        List<Long> hashes = new ArrayList<>();
        Map<Long, Integer> byHash = new HashMap<>();
        int atMax = 0;
        int longest = 0;
        for (int i = 0; i < examples.size(); i++) {
            int[] ids = Records.encode(examples.get(i), tok, options.maxLength()).ids();
            for (int id : ids) {
                if (id < 0 || id >= vocab) {
                    throw new IllegalArgumentException("record " + (i + 1) + (dataset == null ? "" : " of " + dataset)
                            + ": token id " + id + " is outside the teacher's vocabulary of " + vocab
                            + " (the tokenizer does not match the teacher)");
                }
            }
            long h = CacheFormat.hash(ids, ids.length);
            Integer seen = byHash.get(h);
            if (seen != null) {
                if (!Arrays.equals(unique.get(seen), ids)) {
                    throw new IllegalStateException("records with different tokens share the 64-bit key "
                            + Long.toHexString(h) + " (record " + (i + 1) + "); cannot index them");
                }
                continue;
            }
            byHash.put(h, unique.size());
            unique.add(ids);
            hashes.add(h);
            atMax += ids.length >= options.maxLength() ? 1 : 0;
            longest = Math.max(longest, ids.length);
        }
        int records = unique.size();
        // Longest first, so a batch holds similar lengths; records are stored in this order.
        Integer[] order = new Integer[records];
        for (int i = 0; i < records; i++) {
            order[i] = i;
        }
        Arrays.sort(order, Comparator.comparingInt((Integer i) -> -unique.get(i).length).thenComparingInt(i -> i));
        long positions = 0;
        for (int[] ids : unique) {
            positions += Math.max(0, ids.length - 1);
        }
        String datasetSha = dataset == null ? "" : CacheFormat.sha256(dataset);
        TeacherCacheAssembler.Spec spec = new TeacherCacheAssembler.Spec(k, vocab, options.valueType(),
                options.maxLength(), records, examples.size(), positions, atMax, longest, identity, tok.fingerprint(),
                dataset == null ? "" : dataset.toAbsolutePath().normalize().toString(), datasetSha);
        try (TeacherCacheAssembler file = TeacherCacheAssembler.create(out, spec)) {
            for (int start = 0; start < records; start += options.batchSize()) {
                int end = Math.min(records, start + options.batchSize());
                List<Records.Encoded> batch = new ArrayList<>(end - start);
                for (int j = start; j < end; j++) {
                    batch.add(new Records.Encoded(unique.get(order[j]), 0));
                }
                try (NDManager m = manager.newSubManager()) {
                    TokenBatch b = Records.batch(batch, tok.padId(), m);
                    ModelOutput mo = teacher.forward(b.inputIds(), ForwardOptions.inference().withMask(b.attentionMask()));
                    mo.logits().attach(m);
                    NDArray logProbs = mo.logits().logSoftmax(-1);
                    for (int j = start; j < end; j++) {
                        int r = order[j];
                        int n = unique.get(r).length - 1;
                        float[] lp = n <= 0 ? new float[0]
                                : logProbs.get(new NDIndex("{}, :{}", j - start, n)).toFloatArray();
                        file.append(hashes.get(r), Math.max(n, 0),
                                TeacherCacheAssembler.encodeRecord(lp, Math.max(n, 0), vocab, k, options.valueType()));
                    }
                }
                if (progress != null) {
                    progress.update(end, records);
                }
            }
            Path written = file.finish();
            return new Summary(written, file.header(), (System.nanoTime() - t0) / 1_000_000);
        }
    }
}
