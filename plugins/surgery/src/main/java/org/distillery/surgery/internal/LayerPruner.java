package org.distillery.surgery.internal;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import com.google.gson.GsonBuilder;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;

import org.distillery.api.InvalidConfigException;
import org.distillery.api.data.Datasets;
import org.distillery.api.data.Example;
import org.distillery.api.data.TokenBatch;
import org.distillery.api.model.ForwardOptions;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.ModelConfig;
import org.distillery.api.model.ModelOutput;
import org.distillery.api.model.TensorInfo;
import org.distillery.api.model.Tokenizer;
import org.distillery.api.model.WeightWriter;
import org.distillery.api.run.RunResources;
import org.distillery.kit.config.Params;
import org.distillery.kit.data.Records;
import org.distillery.kit.io.AtomicFiles;
import org.distillery.kit.io.ModelFiles;

/**
 * Drops decoder blocks of a model and writes the smaller model as a Hugging Face folder: the blocks whose
 * input and output hidden states are closest in angle on calibration records (Gromov et al., "The
 * Unreasonable Ineffectiveness of the Deeper Layers", arXiv 2403.17887; the pruning step of Self-Data
 * Distillation, arXiv 2410.09982, METHODS.md A15), or an explicit list.
 *
 * <p>The angular distance between hidden states x^(l) (the input of block l) and x^(l+n) is
 * d(x^(l), x^(l+n)) = arccos(cos(x^(l), x^(l+n))) / π, averaged over the calibration tokens
 * ({@code token = last}: each record's last token, as Gromov et al.; {@code all}: every token).
 * {@code selection = contiguous} drops the n consecutive blocks l..l+n−1 with the smallest
 * d(x^(l), x^(l+n)); {@code individual} drops the n blocks with the smallest d(x^(l), x^(l+1)). The
 * hidden states are the model's ({@link ModelOutput#hiddenStates()}, as Hugging Face returns them: the
 * last is after the final norm), so {@code protect-last = true} (default) never drops the last block,
 * which both papers find essential.
 *
 * <p>Every other tensor is written exactly as the model holds it, the kept blocks renumbered
 * ({@code model.layers.<i>.}, {@code transformer.h.<i>.}); the configuration comes from
 * {@link org.distillery.api.model.ModelService#withLayers}, which carries per-layer settings (sliding
 * windows, sparse MoE layers) over, so every architecture the project loads, MoE included, can be pruned.
 */
final class LayerPruner {

    /** Which blocks are dropped. */
    enum Selection { CONTIGUOUS, INDIVIDUAL }

    /** Which tokens the distance averages over. */
    enum Token { LAST, ALL }

    private static final Pattern LAYER = Pattern.compile("^(model\\.layers\\.|transformer\\.h\\.)(\\d+)\\.(.+)$");

    /**
     * The blocks to drop and why.
     *
     * @param drop the dropped blocks, increasing
     * @param keep the kept blocks, increasing
     * @param distances the candidates' angular distances by first block ({@code contiguous}: of the span
     *     starting there; {@code individual}: of that block), empty for an explicit list
     */
    record Plan(List<Integer> drop, List<Integer> keep, Map<Integer, Double> distances) {
    }

    private LayerPruner() {
    }

    /**
     * Chooses the blocks to drop from {@code p}: {@code layers} (explicit) or {@code drop} blocks by
     * angular distance on the calibration records.
     */
    static Plan plan(RunResources run, Datasets datasets, Tokenizer tok, LanguageModel model, Params p) {
        int layers = model.config().numLayers();
        List<Integer> explicit = new ArrayList<>();
        for (Object o : p.config().getAnyRefList("layers")) {
            if (!(o instanceof Integer i) || i < 0 || i >= layers) {
                throw new InvalidConfigException(p.at("layers"), "each entry must be a block index of the model",
                        String.valueOf(o), "0.." + (layers - 1));
            }
            explicit.add(i);
        }
        if (!explicit.isEmpty()) {
            TreeSet<Integer> drop = new TreeSet<>(explicit);
            if (drop.size() != explicit.size() || drop.size() >= layers) {
                throw new InvalidConfigException(p.at("layers"), "must list distinct blocks and keep at least one of "
                        + layers, explicit.toString(), "distinct indices in 0.." + (layers - 1));
            }
            return new Plan(List.copyOf(drop), complement(drop, layers), Map.of());
        }
        int n = p.integer("drop", 1);
        Selection selection = p.choice("selection", Selection.class);
        boolean protectLast = p.bool("protect-last");
        int candidates = selection == Selection.CONTIGUOUS ? layers - n + 1 - (protectLast ? 1 : 0)
                : layers - (protectLast ? 1 : 0);
        if (candidates < 1 || (selection == Selection.INDIVIDUAL && candidates < n)) {
            throw new InvalidConfigException(p.at("drop"), "leaves nothing to choose from a model of " + layers
                    + " blocks" + (protectLast ? " (the last block is protected)" : ""), String.valueOf(n),
                    "1.." + (layers - 1 - (protectLast ? 1 : 0)));
        }
        double[] d = distances(run, datasets, tok, model, p, selection == Selection.CONTIGUOUS ? n : 1);
        Map<Integer, Double> scores = new LinkedHashMap<>();
        for (int l = 0; l < candidates; l++) {
            scores.put(l, d[l]);
        }
        TreeSet<Integer> drop = new TreeSet<>();
        if (selection == Selection.CONTIGUOUS) {
            int best = scores.entrySet().stream().min(Map.Entry.comparingByValue()).orElseThrow().getKey();
            for (int l = best; l < best + n; l++) {
                drop.add(l);
            }
        } else {
            scores.entrySet().stream().sorted(Map.Entry.<Integer, Double>comparingByValue()
                    .thenComparing(Map.Entry.comparingByKey())).limit(n).forEach(e -> drop.add(e.getKey()));
        }
        return new Plan(List.copyOf(drop), complement(drop, layers), scores);
    }

    private static List<Integer> complement(TreeSet<Integer> drop, int layers) {
        List<Integer> keep = new ArrayList<>();
        for (int l = 0; l < layers; l++) {
            if (!drop.contains(l)) {
                keep.add(l);
            }
        }
        return keep;
    }

    /** d[l] = the mean angular distance between hidden states l and l + span, for every l. */
    private static double[] distances(RunResources run, Datasets datasets, Tokenizer tok, LanguageModel model,
                                        Params p, int span) {
        String file = p.string("calibration-file");
        List<Example> records = datasets.read(file, Datasets.Split.TRAIN, p.at("calibration-file"));
        int count = Math.min(records.size(), p.integer("calibration-records", 1));
        int maxLength = Math.min(p.integer("calibration-max-length", 2), model.config().maxPositions() + 1);
        int batchSize = p.integer("calibration-batch-size", 1);
        boolean last = p.choice("token", Token.class) == Token.LAST;
        int layers = model.config().numLayers();
        double[] sum = new double[layers - span + 1];
        long tokens = 0;
        List<Records.Encoded> seqs = new ArrayList<>();
        for (Example e : records.subList(0, count)) {
            seqs.add(Records.encode(e, tok, maxLength));
        }
        for (int i = 0; i < seqs.size(); i += batchSize) {
            try (NDManager step = run.manager().newSubManager()) {
                TokenBatch b = Records.batch(seqs.subList(i, Math.min(seqs.size(), i + batchSize)), tok.padId(), step);
                ModelOutput out = model.forward(b.inputIds(),
                        ForwardOptions.inference().withMask(b.attentionMask()).withHiddenStates());
                NDArray mask = b.attentionMask();
                NDArray select = last ? lastTokens(mask) : mask;
                float weight = select.sum().getFloat();
                tokens += (long) weight;
                for (int l = 0; l + span <= layers; l++) {
                    NDArray x = out.hiddenStates().get(l).toType(DataType.FLOAT32, false);
                    NDArray y = out.hiddenStates().get(l + span).toType(DataType.FLOAT32, false);
                    NDArray cos = x.mul(y).sum(new int[] {-1})
                            .div(x.norm(new int[] {-1}).mul(y.norm(new int[] {-1})).maximum(1e-12f));
                    NDArray angle = cos.clip(-1, 1).acos().div((float) Math.PI);
                    sum[l] += angle.mul(select).sum().getFloat();
                }
                out.logits().close();
            }
        }
        if (tokens == 0) {
            throw new InvalidConfigException(p.at("calibration-file"), "gave no calibration tokens", file,
                    "records with text");
        }
        double[] d = new double[sum.length];
        for (int l = 0; l < sum.length; l++) {
            d[l] = sum[l] / tokens;
        }
        return d;
    }

    /** A [batch, seq] mask of each row's last real token. */
    private static NDArray lastTokens(NDArray attention) {
        long seq = attention.getShape().get(1);
        NDArray lastIndex = attention.sum(new int[] {1}).sub(1).toType(DataType.INT64, false);
        NDArray positions = attention.getManager().arange(0, (int) seq, 1, DataType.INT64).expandDims(0);
        return positions.eq(lastIndex.expandDims(1)).toType(DataType.FLOAT32, false);
    }

    /**
     * Writes {@code model} without the plan's dropped blocks into {@code out} (a new folder, atomically):
     * {@code config.json}, {@code model.safetensors}, the tokenizer and generation files of
     * {@code filesFrom} (if any) and {@code prune.json}.
     *
     * @throws InvalidConfigException at {@code where} when the model cannot keep these layers
     */
    static void write(RunResources run, LanguageModel model, Plan plan, Path out, Path filesFrom,
                      Map<String, Object> provenance, String where) throws IOException {
        ModelConfig config;
        try {
            config = run.models().withLayers(model.config(), plan.keep());
        } catch (IllegalArgumentException e) {
            throw new InvalidConfigException(where, e.getMessage(), plan.drop().toString(), "blocks this model can lose");
        }
        Map<Integer, Integer> renumber = new LinkedHashMap<>();
        for (int i = 0; i < plan.keep().size(); i++) {
            renumber.put(plan.keep().get(i), i);
        }
        Map<String, NDArray> kept = new LinkedHashMap<>();
        for (Map.Entry<String, NDArray> e : model.parameters().entrySet()) {
            String name = rename(e.getKey(), renumber);
            if (name != null) {
                kept.put(name, e.getValue());
            }
        }
        List<TensorInfo> infos = new ArrayList<>();
        kept.entrySet().stream().sorted(Comparator.comparing(Map.Entry::getKey)).forEach(e -> infos.add(
                new TensorInfo(e.getKey(), e.getValue().getDataType(), e.getValue().getShape())));
        Path staging = AtomicFiles.staging(out);
        boolean done = false;
        try {
            Map<String, Object> raw = new LinkedHashMap<>(config.raw());
            raw.put("torch_dtype", torchName(infos.isEmpty() ? DataType.FLOAT32 : infos.get(0).dataType()));
            ModelFiles.copyTokenizerAndGeneration(filesFrom, staging);
            GsonBuilder gson = new GsonBuilder().setPrettyPrinting().serializeNulls().disableHtmlEscaping();
            AtomicFiles.writeString(staging.resolve("config.json"), gson.create().toJson(raw) + "\n");
            try (WeightWriter w = run.models().writeWeights(staging.resolve("model.safetensors"), infos)) {
                for (TensorInfo t : infos) {
                    w.write(t.name(), kept.get(t.name()));
                }
                w.finish();
            }
            Map<String, Object> record = new LinkedHashMap<>(provenance);
            record.put("dropped", plan.drop());
            record.put("kept", plan.keep());
            record.put("distances", plan.distances().entrySet().stream().map(e -> Map.of("first-block", e.getKey(),
                    "distance", e.getValue())).toList());
            AtomicFiles.writeString(staging.resolve("prune.json"), gson.serializeSpecialFloatingPointValues().create()
                    .toJson(record) + "\n");
            AtomicFiles.commit(staging, out);
            done = true;
        } finally {
            if (!done) {
                AtomicFiles.deleteTree(staging);
            }
        }
    }

    /** The name of a parameter in the pruned model, or {@code null} for a dropped block's parameter. */
    static String rename(String name, Map<Integer, Integer> renumber) {
        Matcher m = LAYER.matcher(name);
        if (!m.matches()) {
            return name;
        }
        Integer to = renumber.get(Integer.parseInt(m.group(2)));
        return to == null ? null : m.group(1) + to + "." + m.group(3);
    }

    private static String torchName(DataType t) {
        return switch (t) {
            case FLOAT16 -> "float16";
            case FLOAT64 -> "float64";
            default -> "float32";
        };
    }
}
