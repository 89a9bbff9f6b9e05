package org.distillery.teachers.cache;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32;

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
import org.distillery.kit.io.AtomicFiles;

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
                throw new IllegalArgumentException("value type is required (fp16 or fp32)");
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
        int idBytes = CacheFormat.idBytes(vocab);
        ValueType vt = options.valueType();
        long stride = CacheFormat.stride(k, idBytes, vt.bytes());
        long positions = 0;
        for (int[] ids : unique) {
            positions += Math.max(0, ids.length - 1);
        }
        String datasetSha = dataset == null ? "" : CacheFormat.sha256(dataset);
        TeacherCacheHeader probe = header(options, vocab, idBytes, records, examples.size(), positions, 0, 0, atMax,
                longest, identity, tok, dataset, datasetSha);
        long dataOffset = probe.encodedSize() + (long) records * CacheFormat.INDEX_ENTRY;
        long fileBytes = dataOffset + positions * stride;
        TeacherCacheHeader header = header(options, vocab, idBytes, records, examples.size(), positions, dataOffset,
                fileBytes, atMax, longest, identity, tok, dataset, datasetSha);

        long[] offsets = new long[records];
        int[] crcs = new int[records];
        Path abs = out.toAbsolutePath();
        // written beside the target and renamed over it: a failure (a full disk) leaves the previous cache
        AtomicFiles.writePositional(abs, ch -> {
            long pos = dataOffset;
            int written = 0;
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
                        ByteBuffer rec = encodeRecord(lp, Math.max(n, 0), vocab, k, idBytes, vt);
                        CRC32 crc = new CRC32();
                        crc.update(rec.duplicate());
                        offsets[r] = pos;
                        crcs[r] = (int) crc.getValue();
                        pos += ch.write(rec, pos);
                    }
                }
                written = end;
                if (progress != null) {
                    progress.update(written, records);
                }
            }
            if (pos != fileBytes) {
                throw new IllegalStateException("wrote " + pos + " bytes, planned " + fileBytes);
            }
            // The index, sorted by hash, then the header in front of it.
            Integer[] byKey = new Integer[records];
            for (int i = 0; i < records; i++) {
                byKey[i] = i;
            }
            Arrays.sort(byKey, Comparator.comparingLong(hashes::get));
            ByteBuffer index = ByteBuffer.allocate(records * CacheFormat.INDEX_ENTRY).order(ByteOrder.LITTLE_ENDIAN);
            for (int r : byKey) {
                index.putLong(hashes.get(r)).putLong(offsets[r]).putInt(Math.max(0, unique.get(r).length - 1))
                        .putInt(crcs[r]);
            }
            index.flip();
            CRC32 indexCrc = new CRC32();
            indexCrc.update(index.duplicate());
            ByteBuffer head = header.encode((int) indexCrc.getValue());
            long p = ch.write(head, 0);
            ch.write(index, p);
        });
        return new Summary(abs, header, (System.nanoTime() - t0) / 1_000_000);
    }

    private static TeacherCacheHeader header(Options o, int vocab, int idBytes, int records, int examples,
                                             long positions, long dataOffset, long fileBytes, int atMax, int longest,
                                             TeacherIdentity identity, Tokenizer tok, Path dataset, String datasetSha) {
        return new TeacherCacheHeader(CacheFormat.VERSION, o.k(), vocab, idBytes, o.valueType(), o.maxLength(), records,
                examples, positions, dataOffset, fileBytes, atMax, longest, identity, tok.fingerprint(),
                dataset == null ? "" : dataset.toAbsolutePath().normalize().toString(), datasetSha);
    }

    /** One record: per position the top-k ids, their log-probabilities and the rest log-mass. */
    static ByteBuffer encodeRecord(float[] lp, int n, int vocab, int k, int idBytes, ValueType vt) {
        ByteBuffer b = ByteBuffer.allocate((int) (n * CacheFormat.stride(k, idBytes, vt.bytes())))
                .order(ByteOrder.LITTLE_ENDIAN);
        int[] top = new int[k];
        boolean[] chosen = new boolean[vocab];
        for (int t = 0; t < n; t++) {
            int base = t * vocab;
            topK(lp, base, vocab, k, top);
            double rest = 0;
            double restMax = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < k; j++) {
                chosen[top[j]] = true;
            }
            for (int v = 0; v < vocab; v++) {
                if (!chosen[v]) {
                    restMax = Math.max(restMax, lp[base + v]);
                }
            }
            if (restMax != Double.NEGATIVE_INFINITY) {
                for (int v = 0; v < vocab; v++) {
                    if (!chosen[v]) {
                        rest += Math.exp(lp[base + v] - restMax);
                    }
                }
            }
            float restLog = restMax == Double.NEGATIVE_INFINITY ? Float.NEGATIVE_INFINITY
                    : (float) (restMax + Math.log(rest));
            for (int j = 0; j < k; j++) {
                chosen[top[j]] = false;
                putId(b, top[j], idBytes);
            }
            for (int j = 0; j < k; j++) {
                putValue(b, lp[base + top[j]], vt);
            }
            putValue(b, restLog, vt);
        }
        return b.flip();
    }

    /** The k largest of {@code v[base .. base+n)}, largest first, ties by lower index (insertion into a sorted array). */
    static void topK(float[] v, int base, int n, int k, int[] out) {
        int size = 0;
        for (int i = 0; i < n; i++) {
            float x = v[base + i];
            if (size == k && !(x > v[base + out[k - 1]])) {
                continue;
            }
            int p = size < k ? size++ : k - 1;
            while (p > 0 && x > v[base + out[p - 1]]) {
                out[p] = out[p - 1];
                p--;
            }
            out[p] = i;
        }
    }

    private static void putId(ByteBuffer b, int id, int idBytes) {
        switch (idBytes) {
            case 1 -> b.put((byte) id);
            case 2 -> b.putShort((short) id);
            default -> b.putInt(id);
        }
    }

    private static void putValue(ByteBuffer b, float v, ValueType vt) {
        if (vt == ValueType.FP16) {
            b.putShort(CacheFormat.toHalf(v));
        } else {
            b.putFloat(v);
        }
    }
}
