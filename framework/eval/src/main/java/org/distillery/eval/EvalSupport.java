package org.distillery.eval;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

import com.typesafe.config.Config;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;

import org.distillery.api.InvalidConfigException;
import org.distillery.api.data.Example;
import org.distillery.api.data.TokenBatch;
import org.distillery.api.metric.EvalContext;
import org.distillery.api.model.ForwardOptions;
import org.distillery.api.model.GenerationOptions;
import org.distillery.api.model.GenerationResult;
import org.distillery.api.model.Generator;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.ModelOutput;
import org.distillery.api.model.Tokenizer;
import org.distillery.api.run.RunResources;
import org.distillery.kit.data.Records;

/** What the metrics share: record selection, response scoring, batched generation. */
final class EvalSupport {

    private EvalSupport() {
    }

    /** True when {@code tasks} is empty or names the record's {@code meta.task}. */
    static boolean inTasks(Example e, List<String> tasks) {
        return tasks.isEmpty() || (e.meta() != null && tasks.contains(e.meta().get("task")));
    }

    /** The predictions of a context, failing clearly when a metric that needs them got none. */
    static List<String> predictions(EvalContext ctx, String key) {
        if (ctx.predictions() == null || ctx.predictions().size() != ctx.examples().size()) {
            throw new IllegalStateException(key + " needs one generated prediction per record; got "
                    + (ctx.predictions() == null ? 0 : ctx.predictions().size()) + " for " + ctx.examples().size()
                    + " records");
        }
        return ctx.predictions();
    }

    static int positiveInt(Config p, String key, String name) {
        int v = p.getInt(name);
        if (v < 1) {
            throw new InvalidConfigException(key + "." + name, "must be >= 1", Integer.toString(v), ">= 1");
        }
        return v;
    }

    /**
     * Log-probability of each scored token of each record under {@code model}: the response and
     * its eos for prompt/response and chat records, every token for text records
     * ({@link Records#encode}), in batches, each in its own step scope.
     */
    static List<float[]> tokenLogProbs(RunResources run, LanguageModel model, Tokenizer tok, List<Example> examples,
                                       int maxLength, int batchSize) {
        int max = Math.min(maxLength, model.config().maxPositions() + 1);
        List<Records.Encoded> seqs = new ArrayList<>(examples.size());
        for (Example e : examples) {
            seqs.add(Records.encode(e, tok, max, model.vision().orElse(null)));
        }
        return sequenceLogProbs(run, model, seqs, tok.padId(), batchSize);
    }

    /** Log-probabilities of the tokens past each sequence's prompt. */
    static List<float[]> sequenceLogProbs(RunResources run, LanguageModel model, List<Records.Encoded> seqs, int padId,
                                          int batchSize) {
        List<float[]> out = new ArrayList<>(seqs.size());
        for (int i = 0; i < seqs.size(); i += batchSize) {
            List<Records.Encoded> chunk = seqs.subList(i, Math.min(seqs.size(), i + batchSize));
            try (NDManager step = run.tensors().newStepScope(run.manager())) {
                TokenBatch b = Records.batch(chunk, padId, step, model.vision().orElse(null));
                ModelOutput o = model.forward(b.inputIds(), ForwardOptions.inference().withMask(b.attentionMask())
                        .withPixelValues(b.pixelValues()));
                NDArray logits = o.logits();
                logits.attach(step);
                NDArray logp = logits.toType(DataType.FLOAT32, false).logSoftmax(-1);
                float[] picked = logp.gather(b.targets().expandDims(-1), -1).squeeze(-1).toFloatArray();
                float[] mask = b.lossMask().toFloatArray();
                int len = (int) b.inputIds().getShape().get(1);
                for (int r = 0; r < chunk.size(); r++) {
                    int n = 0;
                    for (int t = 0; t < len; t++) {
                        n += mask[r * len + t] > 0 ? 1 : 0;
                    }
                    float[] lp = new float[n];
                    int k = 0;
                    for (int t = 0; t < len; t++) {
                        if (mask[r * len + t] > 0) {
                            lp[k++] = picked[r * len + t];
                        }
                    }
                    out.add(lp);
                }
            }
        }
        return out;
    }

    /**
     * Prompt ids of a record in the project's format, cut from the left (keeping bos) so that
     * prompt plus {@code room} new tokens fit the model's positions.
     */
    static int[] promptIds(Example e, Tokenizer tok, LanguageModel model, int room) {
        int[] ids = Records.promptIds(e, tok, model.vision().orElse(null));
        int limit = Math.max(2, model.config().maxPositions() - room);
        if (ids.length <= limit) {
            return ids;
        }
        if (e.hasImage()) {
            throw new IllegalArgumentException("record " + e.id() + ": its prompt of " + ids.length + " tokens (image "
                    + "included) leaves no room for " + room + " new tokens in " + model.config().maxPositions()
                    + " positions");
        }
        boolean bos = tok.bosId().isPresent() && ids[0] == tok.bosId().getAsInt();
        int[] cut = new int[limit];
        int keep = bos ? 1 : 0;
        if (bos) {
            cut[0] = ids[0];
        }
        System.arraycopy(ids, ids.length - (limit - keep), cut, keep, limit - keep);
        return cut;
    }

    /** Generated token ids up to (not including) the first stop token. */
    static int[] untilStop(int[] tokens, Set<Integer> stops) {
        for (int i = 0; i < tokens.length; i++) {
            if (stops.contains(tokens[i])) {
                int[] cut = new int[i];
                System.arraycopy(tokens, 0, cut, 0, i);
                return cut;
            }
        }
        return tokens;
    }

    /**
     * Generates from each prompt in batches of {@code batchSize}, each batch in its own step
     * scope; returns the new tokens (stop token included, as the generator reports them).
     */
    static List<int[]> generate(RunResources run, Generator generator, LanguageModel model, List<int[]> prompts,
                                GenerationOptions options, int batchSize) {
        return generate(run, generator, model, prompts, null, options, batchSize);
    }

    /**
     * As {@link #generate(RunResources, Generator, LanguageModel, List, GenerationOptions, int)}, with
     * the records the prompts were built from ({@code null}: no images), whose images go with them.
     */
    static List<int[]> generate(RunResources run, Generator generator, LanguageModel model, List<int[]> prompts,
                                List<Example> records, GenerationOptions options, int batchSize) {
        List<int[]> out = new ArrayList<>(prompts.size());
        for (int i = 0; i < prompts.size(); i += batchSize) {
            int end = Math.min(prompts.size(), i + batchSize);
            List<int[]> chunk = prompts.subList(i, end);
            GenerationOptions o = new GenerationOptions(options.maxNewTokens(), options.temperature(), options.topK(),
                    options.topP(), options.stopTokens(), options.seed() + i, options.useCache());
            try (NDManager step = run.tensors().newStepScope(run.manager())) {
                NDArray pixels = records == null ? null
                        : Records.pixelValues(records.subList(i, end), model.vision().orElse(null), step);
                GenerationResult r = generator.generate(model, chunk, pixels, o, step);
                out.addAll(r.tokens());
            }
        }
        return out;
    }
}
