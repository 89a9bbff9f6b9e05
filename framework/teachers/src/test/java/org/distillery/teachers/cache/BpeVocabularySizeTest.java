package org.distillery.teachers.cache;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;

import com.knuddels.jtokkit.Encodings;
import com.knuddels.jtokkit.api.Encoding;
import com.knuddels.jtokkit.api.EncodingType;

import org.junit.jupiter.api.Test;

/**
 * The compact cache formats' bytes per top-k entry over real BPE vocabularies (GPT-2's 50,257 ids,
 * cl100k's 100,277, o200k's 200,019) where no large-vocabulary teacher exists on this machine: the
 * teacher is an interpolated bigram model of the repository's README in each tokenisation
 * ({@code p(w | v) = l(v) c(v, w) / c(v) + (1 - l(v)) p1(w)}, {@code l(v) = c(v) / (c(v) + 5)},
 * {@code p1} the add-1/2 unigram over the whole vocabulary). Its top-k holds the few continuations
 * the text has after the previous token and then the text's frequent tokens, as a language model's
 * does; a trained transformer's tail is more varied, so these figures are a stand-in for a real
 * large-vocabulary teacher, not a measurement of one. Beside them: the same vocabulary with the top-k
 * ids spread evenly (random logits), the worst case. Prints the table README quotes and asserts the
 * goal (q4 at most 2 bytes per entry) on the bigram teachers.
 */
class BpeVocabularySizeTest {

    private static final int K = 32;
    /** Positions measured per vocabulary: every STRIDE-th token of the text, at most POSITIONS. */
    private static final int STRIDE = 7;
    private static final int POSITIONS = 2048;
    private static final int CHUNK = 64;

    @Test
    void q4TakesAtMostTwoBytesPerEntryOnBigramTeachersOfRealBpeVocabularies() throws IOException {
        String text = Files.readString(Path.of("../../README.md"));
        System.out.printf(Locale.ROOT, "k %d; bigram teacher of README.md (%,d characters); bytes per top-k entry "
                + "(records only: each position's fp16 top-1 and rest mass shared among its k)%n", K, text.length());
        System.out.printf(Locale.ROOT, "%-12s %10s %8s %9s %9s %9s %9s %13s %13s%n", "vocabulary", "ids", "tokens",
                "distinct", "positions", "fp16", "q8", "q4", "q4 spread");
        for (EncodingType type : new EncodingType[] {EncodingType.R50K_BASE, EncodingType.CL100K_BASE,
                EncodingType.O200K_BASE}) {
            Encoding enc = Encodings.newDefaultEncodingRegistry().getEncoding(type);
            int vocab = vocabulary(type);
            int[] ids = enc.encodeOrdinary(text).toArray();
            Bigram model = new Bigram(ids, vocab);
            int n = Math.min(POSITIONS, (ids.length - 1) / STRIDE);
            long[] bytes = new long[2];
            float[] rows = new float[CHUNK * vocab];
            ValueType[] types = {ValueType.Q8, ValueType.Q4};
            for (int start = 0; start < n; start += CHUNK) {
                int m = Math.min(CHUNK, n - start);
                for (int t = 0; t < m; t++) {
                    model.logProbs(ids[(start + t) * STRIDE], rows, t * vocab);
                }
                for (int i = 0; i < types.length; i++) {
                    ByteBuffer rec = RecordCodec.encode(rows, m, vocab, K, 0, types[i]);
                    bytes[i] += rec.remaining();
                    checkDecodes(rec, m, vocab, types[i]);
                }
            }
            double q8 = bytes[0] / (double) (n * K);
            double q4 = bytes[1] / (double) (n * K);
            double spread = spreadQ4(vocab);
            double fp16 = CacheFormat.stride(K, CacheFormat.idBytes(vocab), 2) / (double) K;
            System.out.printf(Locale.ROOT, "%-12s %,10d %,8d %,9d %,9d %9.3f %9.3f %6.3f (%.2fx) %13.3f%n",
                    type.getName(), vocab, ids.length, model.distinct(), n, fp16, q8, q4, q4 / fp16, spread);
            assertTrue(q4 <= 2.0, type.getName() + ": q4 takes " + q4 + " bytes per entry");
            assertTrue(q4 < q8 && q4 < spread, type.getName() + ": q4 " + q4 + ", q8 " + q8 + ", spread " + spread);
        }
    }

    private static int vocabulary(EncodingType type) {
        return switch (type) {
            case R50K_BASE -> 50_257;
            case CL100K_BASE -> 100_277;
            case O200K_BASE -> 200_019;
            default -> throw new IllegalArgumentException(type.getName());
        };
    }

    /** The record decodes to k ids per position inside the vocabulary. */
    private static void checkDecodes(ByteBuffer rec, int n, int vocab, ValueType vt) throws IOException {
        long[] ids = new long[n * K];
        RecordCodec.decodeV2(rec, 0, rec.remaining(), n, K, vocab, vt, ids, new float[n * K], 0, new float[n], 0, 1e4f,
                "bigram");
    }

    /** q4's bytes per entry for 64 positions of random logits over {@code vocab} ids (ids spread evenly). */
    private static double spreadQ4(int vocab) {
        int n = 64;
        java.util.Random r = new java.util.Random(vocab);
        float[] lp = new float[n * vocab];
        for (int i = 0; i < lp.length; i++) {
            lp[i] = (float) (r.nextGaussian() * 2);
        }
        return RecordCodec.encode(lp, n, vocab, K, 0, ValueType.Q4).remaining() / (double) (n * K);
    }

    /** An interpolated bigram model of a token sequence. */
    private static final class Bigram {
        private final int vocab;
        private final double[] unigram;
        private final Map<Integer, Map<Integer, Integer>> next = new HashMap<>();
        private final Map<Integer, Integer> count = new HashMap<>();
        private final int distinct;

        Bigram(int[] ids, int vocab) {
            this.vocab = vocab;
            int[] c = new int[vocab];
            for (int i = 0; i < ids.length; i++) {
                c[ids[i]]++;
                if (i > 0) {
                    next.computeIfAbsent(ids[i - 1], v -> new HashMap<>()).merge(ids[i], 1, Integer::sum);
                    count.merge(ids[i - 1], 1, Integer::sum);
                }
            }
            distinct = (int) java.util.Arrays.stream(c).filter(x -> x > 0).count();
            unigram = new double[vocab];
            double total = ids.length + 0.5 * vocab;
            for (int v = 0; v < vocab; v++) {
                unigram[v] = (c[v] + 0.5) / total;
            }
        }

        /** Distinct tokens of the text. */
        int distinct() {
            return distinct;
        }

        /** log p(. | v) into {@code out} from {@code at}. */
        void logProbs(int v, float[] out, int at) {
            int cv = count.getOrDefault(v, 0);
            double lambda = cv / (cv + 5.0);
            double[] p = new double[vocab];
            for (int w = 0; w < vocab; w++) {
                p[w] = (1 - lambda) * unigram[w];
            }
            for (Map.Entry<Integer, Integer> e : next.getOrDefault(v, Map.of()).entrySet()) {
                p[e.getKey()] += lambda * e.getValue() / cv;
            }
            for (int w = 0; w < vocab; w++) {
                out[at + w] = (float) Math.log(p[w]);
            }
        }
    }
}
