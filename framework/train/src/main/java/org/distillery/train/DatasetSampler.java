package org.distillery.train;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.function.Predicate;

import com.typesafe.config.Config;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

import org.distillery.api.InvalidConfigException;
import org.distillery.api.data.Datasets;
import org.distillery.api.data.Example;
import org.distillery.api.data.TokenBatch;
import org.distillery.api.model.VisionInput;
import org.distillery.api.sampler.Sampler;
import org.distillery.api.sampler.SamplerContext;
import org.distillery.api.sampler.SamplerFactory;
import org.distillery.kit.data.Records;

/**
 * {@code data.dataset}: batches of its {@code file} (empty: the experiment's {@code data.train-file};
 * {@code stage:<name>}: the dataset an earlier stage of the run wrote, e.g. a {@code data.generate}
 * stage) plus any {@code extra-files}, optionally only the records of some task families ({@code tasks},
 * matched against {@code meta.task}), reshuffled each epoch with a seed derived from the run seed
 * and the epoch, so a resumed run sees the same order. Its position is {@code epoch:index}.
 *
 * <p>With {@code record-weight = <meta key>} every record carries the weight its {@code meta}
 * holds under that key (e.g. {@code coreset-weight}, which {@code data.coreset} writes): the
 * record's row of the loss mask is multiplied by it, and since the trainer divides a step's loss
 * by the sum of its loss masks, a step's loss is the weighted mean over tokens,
 * {@code Σ_i w_i Σ_t ℓ_it / Σ_i w_i n_i} (GradMatch/CORDS weight each example's loss and normalise
 * by the batch's weights). A record without a valid non-negative weight is refused.
 *
 * <p>Records with images expand into the student's image tokens and their batches carry the pixel
 * values ({@link Records#batch(List, int, NDManager, VisionInput)}); text-only records mix in.
 */
public final class DatasetSampler implements Sampler {

    /** Registry key. */
    public static final String KEY = "data.dataset";

    private final List<Records.Encoded> sequences;
    private final float[] weights;
    private final VisionInput vision;
    private final int batchSize;
    private final int padId;
    private final long seed;
    private final boolean shuffle;
    private List<Integer> order;
    private int epoch;
    private int index;

    private DatasetSampler(List<Records.Encoded> sequences, float[] weights, VisionInput vision, int batchSize,
                           int padId, long seed, boolean shuffle) {
        this.sequences = sequences;
        this.weights = weights;
        this.vision = vision;
        this.batchSize = batchSize;
        this.padId = padId;
        this.seed = seed;
        this.shuffle = shuffle;
        reorder(0);
    }

    private void reorder(int newEpoch) {
        epoch = newEpoch;
        index = 0;
        List<Integer> idx = new ArrayList<>();
        for (int i = 0; i < sequences.size(); i++) {
            idx.add(i);
        }
        if (shuffle) {
            Collections.shuffle(idx, new Random(seed * 1_000_003L + epoch));
        }
        order = idx;
    }

    @Override
    public TokenBatch next(NDManager manager) {
        List<Records.Encoded> batch = new ArrayList<>(batchSize);
        float[] rowWeights = new float[batchSize];
        while (batch.size() < batchSize) {
            if (index >= order.size()) {
                reorder(epoch + 1);
            }
            int record = order.get(index++);
            rowWeights[batch.size()] = weights == null ? 1f : weights[record];
            batch.add(sequences.get(record));
        }
        TokenBatch b = Records.batch(batch, padId, manager, vision);
        if (weights == null) {
            return b;
        }
        return b.withLossMask(b.lossMask().mul(manager.create(rowWeights, new Shape(batchSize, 1))));
    }

    @Override
    public String position() {
        return epoch + ":" + index;
    }

    @Override
    public void seek(String position) {
        String[] parts = position.split(":");
        reorder(Integer.parseInt(parts[0]));
        index = Integer.parseInt(parts[1]);
    }

    /** The factory. */
    public static final class Factory implements SamplerFactory {

        @Override
        public String description() {
            return "batches of data.train-file (plus extra-files), reshuffled every epoch";
        }

        @Override
        public Sampler create(SamplerContext ctx, Config params) {
            String where = ctx.paramsPath();
            String file = params.getString("file");
            VisionInput vision = ctx.student() == null ? null : ctx.student().vision().orElse(null);
            List<String> tasks = params.getStringList("tasks");
            Predicate<Example> inTasks = e -> tasks.isEmpty()
                    || (e.meta() != null && tasks.contains(e.meta().get("task")));
            List<Example> examples = new ArrayList<>();
            List<Records.Encoded> seqs = new ArrayList<>();
            List<Example> read = ctx.datasets().read(file, Datasets.Split.TRAIN, where + ".file");
            int before = read.size();
            List<Example> kept = read.stream().filter(inTasks).toList();
            encode(ctx, kept, vision, seqs, file.isEmpty() ? "data.train-file" : where + ".file",
                    ctx.datasets().resolve(file, Datasets.Split.TRAIN, where + ".file"));
            examples.addAll(kept);
            for (String extra : params.getStringList("extra-files")) {
                List<Example> more = ctx.datasets().read(extra, Datasets.Split.TRAIN, where + ".extra-files");
                before += more.size();
                kept = more.stream().filter(inTasks).toList();
                encode(ctx, kept, vision, seqs, where + ".extra-files",
                        ctx.datasets().resolve(extra, Datasets.Split.TRAIN, where + ".extra-files"));
                examples.addAll(kept);
            }
            if (!tasks.isEmpty() && examples.isEmpty()) {
                throw new InvalidConfigException(where + ".tasks", "no record of the " + before + " has one of these "
                        + "tasks (meta.task)", tasks.toString(), "task families of the records, e.g. [arith, fact]");
            }
            if (examples.isEmpty()) {
                throw new InvalidConfigException(file.isEmpty() ? "data.train-file" : where + ".file", "has no records",
                        file.isEmpty() ? ctx.datasets().file(Datasets.Split.TRAIN).map(Path::toString).orElse("")
                                : file, "a non-empty JSONL file");
            }
            String weightKey = params.getString("record-weight");
            return new DatasetSampler(seqs, weightKey.isEmpty() ? null : weights(examples, weightKey, where), vision,
                    ctx.batchSize(), ctx.tokenizer().padId(), ctx.resources().seed(), params.getBoolean("shuffle"));
        }

        /** Each record's weight from its meta; refuses a missing, unreadable or negative one. */
        static float[] weights(List<Example> examples, String key, String where) {
            float[] w = new float[examples.size()];
            for (int i = 0; i < w.length; i++) {
                Example e = examples.get(i);
                String v = e.meta() == null ? null : e.meta().get(key);
                float f;
                try {
                    f = v == null ? Float.NaN : Float.parseFloat(v);
                } catch (NumberFormatException ex) {
                    f = Float.NaN;
                }
                if (!(f >= 0) || Float.isInfinite(f)) {
                    throw new InvalidConfigException(where + ".record-weight", "record " + e.id() + " has no valid "
                            + "weight in meta." + key, v == null ? "(missing)" : v, "a finite number >= 0 in every record");
                }
                w[i] = f;
            }
            return w;
        }

        /** Encodes records, a record the student cannot take failing at {@code where} with the file and record. */
        private static void encode(SamplerContext ctx, List<Example> examples, VisionInput vision,
                                   List<Records.Encoded> out, String where, Path file) {
            for (Example e : examples) {
                try {
                    out.add(Records.encode(e, ctx.tokenizer(), ctx.maxLength(), vision));
                } catch (IllegalArgumentException bad) {
                    throw new InvalidConfigException(where, file + ": " + bad.getMessage(), file.toString(),
                            "records the student can take (images need a model with a vision tower)");
                }
            }
        }
    }
}
