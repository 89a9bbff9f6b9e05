package org.distillery.train;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;

import com.typesafe.config.Config;

import ai.djl.ndarray.NDManager;

import org.distillery.api.InvalidConfigException;
import org.distillery.api.data.Example;
import org.distillery.api.data.TokenBatch;
import org.distillery.api.sampler.Sampler;
import org.distillery.api.sampler.SamplerContext;
import org.distillery.api.sampler.SamplerFactory;

/**
 * {@code data.dataset}: batches of the experiment's training file ({@code data.train-file}),
 * reshuffled each epoch with a seed derived from the run seed and the epoch, so a resumed run
 * sees the same order. Its position is {@code epoch:index}. A {@code file} of the form
 * {@code stage:<name>} is the dataset an earlier stage of the run wrote to
 * {@code stages/<name>/data.jsonl} (e.g. a {@code data.generate} stage).
 */
public final class DatasetSampler implements Sampler {

    private final List<Sequences.Sequence> sequences;
    private final int batchSize;
    private final int padId;
    private final long seed;
    private final boolean shuffle;
    private List<Integer> order;
    private int epoch;
    private int index;

    private DatasetSampler(List<Sequences.Sequence> sequences, int batchSize, int padId, long seed, boolean shuffle) {
        this.sequences = sequences;
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
        List<Sequences.Sequence> batch = new ArrayList<>(batchSize);
        while (batch.size() < batchSize) {
            if (index >= order.size()) {
                reorder(epoch + 1);
            }
            batch.add(sequences.get(order.get(index++)));
        }
        return Sequences.batch(batch, padId, manager);
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

    /** A {@code file} naming the dataset an earlier stage wrote: {@code stage:<name>}. */
    public static final String STAGE_PREFIX = "stage:";

    /** The factory. */
    public static final class Factory implements SamplerFactory {

        @Override
        public String description() {
            return "batches of data.train-file (plus extra-files), reshuffled every epoch";
        }

        @Override
        public Sampler create(SamplerContext ctx, Config params) {
            Config data = ctx.run().config().getConfig("data");
            String file = params.getString("file").isEmpty() ? data.getString("train-file") : params.getString("file");
            if (file.isEmpty()) {
                throw new InvalidConfigException("data.train-file", "is required by sampler data.dataset", "\"\"",
                        "a JSONL file of {prompt, response}, {messages} or {text} records");
            }
            List<Example> examples = new ArrayList<>();
            List<String> files = new ArrayList<>(List.of(file));
            files.addAll(params.getStringList("extra-files"));
            for (String f : files) {
                Path path = Path.of(f);
                if (f.startsWith(STAGE_PREFIX)) {
                    String stage = f.substring(STAGE_PREFIX.length());
                    path = ctx.run().runDir().resolve("stages").resolve(stage).resolve("data.jsonl");
                    if (!Files.isRegularFile(path)) {
                        throw new InvalidConfigException(f.equals(file) ? "train.sampler.params.file"
                                : "train.sampler.params.extra-files", "no earlier stage of this run wrote " + path,
                                f, "stage:<name of an earlier data stage>, or a JSONL file");
                    }
                }
                try {
                    examples.addAll(ctx.run().data().readJsonl(path));
                } catch (IOException e) {
                    throw new InvalidConfigException(f.equals(file) ? "data.train-file" : "train.sampler.params.extra-files",
                            e.getMessage(), f, "a readable JSONL file");
                }
            }
            if (examples.isEmpty()) {
                throw new InvalidConfigException("data.train-file", "has no records", file, "a non-empty JSONL file");
            }
            List<Sequences.Sequence> seqs = new ArrayList<>(examples.size());
            for (Example e : examples) {
                seqs.add(Sequences.encode(e, ctx.tokenizer(), ctx.maxLength()));
            }
            return new DatasetSampler(seqs, ctx.batchSize(), ctx.tokenizer().padId(), ctx.run().seed(),
                    params.getBoolean("shuffle"));
        }
    }
}
