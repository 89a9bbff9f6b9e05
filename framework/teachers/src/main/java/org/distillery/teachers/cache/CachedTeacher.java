package org.distillery.teachers.cache;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import com.typesafe.config.Config;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import org.distillery.api.InvalidConfigException;
import org.distillery.api.data.TokenBatch;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.Tokenizer;
import org.distillery.api.teacher.Teacher;
import org.distillery.api.teacher.TeacherContext;
import org.distillery.api.teacher.TeacherFactory;
import org.distillery.api.teacher.TeacherOutput;
import org.distillery.kit.teacher.TopKBatch;

/**
 * {@code teacher.cached}: answers from a teacher cache instead of a model. Each batch row is
 * found by the key of its tokens (the inputs where the attention mask is 1, then the last
 * target), so any order, batch size or padding of the cached dataset works. Only top-k
 * log-probabilities exist: losses get {@code topIds}, {@code topLogProbs} and
 * {@code restLogMass} with {@code null} logits, and no hidden states.
 *
 * <p>Padding positions (and rows without positions) hold a harmless distribution: ids
 * {@code 0..k-1}, log-probability 0 for the first and {@code -}{@link #FLOOR} for the others and
 * for the rest mass. Stored infinities (log 0) also become {@code -FLOOR}.
 */
public final class CachedTeacher implements Teacher {

    /** Registry key. */
    public static final String KEY = "teacher.cached";

    /** The magnitude standing in for log 0. */
    public static final float FLOOR = 1e4f;

    private final TeacherCacheReader reader;

    /** A teacher over an open cache, which it closes. */
    public CachedTeacher(TeacherCacheReader reader) {
        this.reader = reader;
    }

    /** The cache. */
    public TeacherCacheReader reader() {
        return reader;
    }

    @Override
    public TeacherOutput score(TokenBatch batch, boolean hiddenStates, NDManager manager) {
        if (hiddenStates) {
            throw new IllegalArgumentException("teacher.cached holds the teacher's top-k log-probabilities only, not its "
                    + "hidden states; losses that need them (e.g. kd.hidden) need teacher.local");
        }
        TopKBatch out = TopKBatch.of(batch, reader.header().k(), FLOOR, KEY);
        for (TopKBatch.Row row : out.rows()) {
            int entry = reader.find(row.sequence(), row.sequence().length);
            if (entry < 0) {
                throw new IllegalStateException(missMessage(row.index(), row.sequence()));
            }
            try {
                reader.read(entry, row.positions(), out.ids(), out.logProbs(), out.offset(row), out.rest(),
                        out.restOffset(row), FLOOR);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return out.build(manager);
    }

    private String missMessage(int row, int[] seq) {
        TeacherCacheHeader h = reader.header();
        StringBuilder head = new StringBuilder();
        for (int t = 0; t < Math.min(seq.length, 12); t++) {
            head.append(t == 0 ? "" : " ").append(seq[t]);
        }
        if (seq.length > 12) {
            head.append(" ...");
        }
        return "teacher.cached: batch row " + row + " (" + seq.length + " tokens: " + head + ") is not in the cache "
                + reader.file() + ", which holds " + h.records() + " sequences of dataset "
                + (h.dataset().isEmpty() ? "(unnamed)" : h.dataset()) + " tokenised with max-length " + h.maxLength()
                + "; the sampler must draw from that dataset with the same tokenizer and max-length "
                + "(or rebuild the cache with distill teacher cache)";
    }

    @Override
    public Optional<LanguageModel> model() {
        return Optional.empty();
    }

    @Override
    public String identity() {
        return "cached:" + reader.file().toAbsolutePath().normalize() + " of " + reader.header().teacher();
    }

    @Override
    public void close() {
        reader.close();
    }

    /** The factory: params {@code file} and optional {@code verify-teacher-dir}. */
    public static final class Factory implements TeacherFactory {


        @Override
        public String description() {
            return "the teacher's top-k log-probabilities precomputed by `distill teacher cache`";
        }

        @Override
        public Teacher open(TeacherContext context, Config params) {
            String file = params.getString("file");
            String verify = params.hasPath("verify-teacher-dir") ? params.getString("verify-teacher-dir") : "";
            String where = context.paramsPath() + ".file";
            if (file.isEmpty()) {
                throw new InvalidConfigException(where, "is required", "\"\"",
                        "a cache file written by `distill teacher cache <teacher-dir> --data ... --out ...`");
            }
            TeacherCacheReader reader;
            try {
                reader = TeacherCacheReader.open(Path.of(file));
            } catch (IOException e) {
                throw new InvalidConfigException(where, e.getMessage(), file, "a cache file written by `distill teacher cache`");
            }
            try {
                check(context, reader, file, verify);
            } catch (RuntimeException e) {
                reader.close();
                throw e;
            }
            TeacherCacheHeader h = reader.header();
            Map<String, Object> ev = new LinkedHashMap<>();
            ev.put("file", reader.file().toAbsolutePath().normalize().toString());
            ev.put("teacher", h.teacher().modelDir());
            ev.put("teacher_weights_sha256", h.teacher().weightsSha256());
            ev.put("tokenizer", h.tokenizerFingerprint());
            ev.put("dataset", h.dataset());
            ev.put("dataset_sha256", h.datasetSha256());
            ev.put("k", h.k());
            ev.put("sequences", h.records());
            ev.put("positions", h.positions());
            context.resources().events().event("teacher-cache", ev);
            return new CachedTeacher(reader);
        }

        private static void check(TeacherContext context, TeacherCacheReader reader, String file, String verify) {
            String where = context.paramsPath() + ".file";
            TeacherCacheHeader h = reader.header();
            Tokenizer tok = context.tokenizer();
            Path tokDir = context.tokenizerDir();
            if (!tok.fingerprint().equals(h.tokenizerFingerprint())) {
                throw new InvalidConfigException(where, "was made with tokenizer " + h.tokenizerFingerprint()
                        + ", but the run's tokenizer (" + (tokDir == null ? "built in" : tokDir) + ") is "
                        + tok.fingerprint(), file,
                        "a cache made with the run's tokenizer");
            }
            if (!verify.isEmpty()) {
                TeacherIdentity actual;
                try {
                    actual = TeacherIdentity.of(Path.of(verify));
                } catch (IOException e) {
                    throw new InvalidConfigException(context.paramsPath() + ".verify-teacher-dir", e.getMessage(), verify,
                            "a Hugging Face model folder");
                }
                if (!actual.sameWeights(h.teacher())) {
                    throw new InvalidConfigException(where, "was made by teacher " + h.teacher()
                            + ", not by the one in " + actual, file, "a cache made from the weights of " + verify);
                }
            }
            int trainMax = context.maxLength();
            if (h.longest() > trainMax || (h.atMaxLength() > 0 && trainMax != h.maxLength())) {
                throw new InvalidConfigException(where, "was tokenised with max-length " + h.maxLength() + " ("
                        + h.atMaxLength() + " sequences reach it, the longest has " + h.longest()
                        + " tokens), which train.max-length = " + trainMax + " would cut differently", file,
                        "a cache made with --max-length " + trainMax);
            }
        }
    }
}
