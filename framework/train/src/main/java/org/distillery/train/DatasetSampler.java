package org.distillery.train;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;

import com.typesafe.config.Config;

import ai.djl.ndarray.NDManager;

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
 * stage) plus any {@code extra-files}, reshuffled each epoch with a seed derived from the run seed
 * and the epoch, so a resumed run sees the same order. Its position is {@code epoch:index}.
 * Records with images expand into the student's image tokens and their batches carry the pixel
 * values ({@link Records#batch(List, int, NDManager, VisionInput)}); text-only records mix in.
 */
public final class DatasetSampler implements Sampler {

    /** Registry key. */
    public static final String KEY = "data.dataset";

    private final List<Records.Encoded> sequences;
    private final VisionInput vision;
    private final int batchSize;
    private final int padId;
    private final long seed;
    private final boolean shuffle;
    private List<Integer> order;
    private int epoch;
    private int index;

    private DatasetSampler(List<Records.Encoded> sequences, VisionInput vision, int batchSize, int padId, long seed,
                           boolean shuffle) {
        this.sequences = sequences;
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
        while (batch.size() < batchSize) {
            if (index >= order.size()) {
                reorder(epoch + 1);
            }
            batch.add(sequences.get(order.get(index++)));
        }
        return Records.batch(batch, padId, manager, vision);
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
            VisionInput vision = ctx.student().vision().orElse(null);
            List<Records.Encoded> seqs = new ArrayList<>();
            List<Example> examples = new ArrayList<>(ctx.datasets().read(file, Datasets.Split.TRAIN, where + ".file"));
            encode(ctx, examples, vision, seqs, file.isEmpty() ? "data.train-file" : where + ".file",
                    ctx.datasets().resolve(file, Datasets.Split.TRAIN, where + ".file"));
            for (String extra : params.getStringList("extra-files")) {
                List<Example> more = ctx.datasets().read(extra, Datasets.Split.TRAIN, where + ".extra-files");
                encode(ctx, more, vision, seqs, where + ".extra-files",
                        ctx.datasets().resolve(extra, Datasets.Split.TRAIN, where + ".extra-files"));
                examples.addAll(more);
            }
            if (examples.isEmpty()) {
                throw new InvalidConfigException(file.isEmpty() ? "data.train-file" : where + ".file", "has no records",
                        file.isEmpty() ? ctx.datasets().file(Datasets.Split.TRAIN).map(Path::toString).orElse("")
                                : file, "a non-empty JSONL file");
            }
            return new DatasetSampler(seqs, vision, ctx.batchSize(), ctx.tokenizer().padId(), ctx.resources().seed(),
                    params.getBoolean("shuffle"));
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
