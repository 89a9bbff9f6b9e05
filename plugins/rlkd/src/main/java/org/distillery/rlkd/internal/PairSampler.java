package org.distillery.rlkd.internal;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import com.typesafe.config.Config;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;

import org.distillery.api.InvalidConfigException;
import org.distillery.api.data.Datasets;
import org.distillery.api.data.Example;
import org.distillery.api.data.TokenBatch;
import org.distillery.api.model.ForwardOptions;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.Tokenizer;
import org.distillery.api.sampler.Sampler;
import org.distillery.api.sampler.SamplerContext;
import org.distillery.api.sampler.SamplerFactory;
import org.distillery.kit.config.Params;
import org.distillery.kit.data.Records;
import org.distillery.kit.rollout.SeededOrder;

/**
 * {@code dpo.pairs}: preference pairs for {@code dpo.sigmoid}. A pair is a {@code {prompt, response}}
 * record whose response is the chosen one and whose {@code meta.rejected} is the rejected one (what
 * {@code dpo.aif} writes). Each micro-batch holds {@code train.batch-size / 2} pairs as rows 2i
 * (chosen) and 2i+1 (rejected); the reference model scores the batch once, without gradients, and the
 * summed response log-probabilities of each row travel with it ({@code reference-logprobs}, [batch]):
 * Zephyr's reference is the dSFT model, which is the student this stage starts from
 * ({@code reference = initial}); a model folder may be named instead. Pairs are drawn in a seeded
 * order reshuffled every epoch (or in file order); the position is the pair cursor.
 *
 * <pre>
 * sampler { key = dpo.pairs, params { file = "stage:aif", reference = initial } }
 * </pre>
 */
final class PairSampler implements Sampler {

    /** Registry key. */
    static final String KEY = "dpo.pairs";
    /** Per-row summed response log-probabilities under the reference, [batch]. */
    static final String REFERENCE_LOGPROBS = "reference-logprobs";
    /** The meta key of a pair's rejected response. */
    static final String REJECTED = "rejected";

    private final SamplerContext ctx;
    private final List<Records.Encoded[]> pairs;
    private final LanguageModel reference;
    private final boolean shuffle;
    private final long seed;
    private long cursor;

    PairSampler(SamplerContext ctx, List<Records.Encoded[]> pairs, LanguageModel reference, boolean shuffle, long seed) {
        this.ctx = ctx;
        this.pairs = pairs;
        this.reference = reference;
        this.shuffle = shuffle;
        this.seed = seed;
    }

    @Override
    public TokenBatch next(NDManager manager) {
        int n = ctx.batchSize() / 2;
        List<Records.Encoded> rows = new ArrayList<>(2 * n);
        for (int i = 0; i < n; i++) {
            long c = cursor++;
            int k = shuffle ? SeededOrder.at(pairs.size(), seed, c) : (int) (c % pairs.size());
            rows.add(pairs.get(k)[0]);
            rows.add(pairs.get(k)[1]);
        }
        TokenBatch b = Records.batch(rows, ctx.tokenizer().padId(), manager);
        float[] ref;
        try (NDManager m = manager.newSubManager()) {
            NDArray logits = reference.forward(b.inputIds(), ForwardOptions.inference().withMask(b.attentionMask()))
                    .logits();
            logits.attach(m);
            ref = DpoLoss.rowSums(logits.toType(DataType.FLOAT32, false), b, Integer.MAX_VALUE, m);
        }
        Map<String, NDArray> extras = new LinkedHashMap<>();
        extras.put(REFERENCE_LOGPROBS, manager.create(ref));
        return new TokenBatch(b.inputIds(), b.attentionMask(), b.targets(), b.lossMask(), b.promptLengths(), extras);
    }

    @Override
    public String position() {
        return Long.toString(cursor);
    }

    @Override
    public void seek(String position) {
        try {
            cursor = Long.parseLong(position);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("not a " + KEY + " position: " + position);
        }
    }

    /** The factory. */
    static final class Factory implements SamplerFactory {

        @Override
        public String description() {
            return "preference pairs (chosen, rejected rows) with the reference model's log-probabilities, for "
                    + "dpo.sigmoid";
        }

        @Override
        public Sampler create(SamplerContext ctx, Config params) {
            Params p = Params.of(params, ctx.paramsPath());
            if (ctx.batchSize() < 2 || ctx.batchSize() % 2 != 0) {
                throw new InvalidConfigException("train.batch-size", KEY + " puts a chosen and a rejected row per pair "
                        + "in a batch", String.valueOf(ctx.batchSize()), "an even number >= 2");
            }
            String file = p.string("file");
            Tokenizer tok = ctx.tokenizer();
            List<Records.Encoded[]> pairs = new ArrayList<>();
            for (Example e : ctx.datasets().read(file, Datasets.Split.TRAIN, p.at("file"))) {
                String rejected = e.meta() == null ? null : e.meta().get(REJECTED);
                if (e.prompt() == null || e.response() == null || rejected == null) {
                    throw new InvalidConfigException(file.isEmpty() ? "data.train-file" : p.at("file"), "record "
                            + e.id() + " is not a preference pair", file,
                            "{prompt, response = the chosen response, meta.rejected = the rejected one} records "
                                    + "(what dpo.aif writes)");
                }
                Example loser = Example.pair(e.id(), e.prompt(), rejected, e.meta());
                pairs.add(new Records.Encoded[] {Records.encode(e, tok, ctx.maxLength()),
                    Records.encode(loser, tok, ctx.maxLength())});
            }
            if (pairs.isEmpty()) {
                throw new InvalidConfigException(file.isEmpty() ? "data.train-file" : p.at("file"), "has no pairs",
                        file, "a JSONL file of preference pairs");
            }
            String ref = p.string("reference");
            LanguageModel reference;
            NDManager m = ctx.resources().manager().newSubManager();
            if (ref.equals("initial")) {
                // the student as the stage starts it (a checkpoint is restored only after the sampler is built)
                reference = ModelCopies.copy(ctx.resources(), ctx.student(), m);
            } else {
                Path dir = Path.of(ref);
                if (!Files.isRegularFile(dir.resolve("config.json"))) {
                    m.close();
                    throw new InvalidConfigException(p.at("reference"), "not a model folder", Params.quote(ref),
                            "initial, or a Hugging Face model folder");
                }
                try {
                    reference = ctx.resources().models().load(dir, DataType.FLOAT32, m);
                } catch (IOException | RuntimeException e) {
                    m.close();
                    throw new InvalidConfigException(p.at("reference"), "cannot load the model: " + e.getMessage(), ref,
                            "a Hugging Face model folder");
                }
            }
            return new PairSampler(ctx, List.copyOf(pairs), reference, p.bool("shuffle"),
                    ctx.resources().random(KEY).nextLong());
        }
    }
}
