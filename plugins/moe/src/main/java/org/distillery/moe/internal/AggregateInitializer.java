package org.distillery.moe.internal;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigRenderOptions;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;

import org.distillery.api.InvalidConfigException;
import org.distillery.api.data.Datasets;
import org.distillery.api.data.Example;
import org.distillery.api.model.InitializerContext;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.ModelConfig;
import org.distillery.api.model.ModelInitializer;
import org.distillery.api.model.ModelInitializerFactory;
import org.distillery.api.model.Tokenizer;
import org.distillery.api.run.RunResources;
import org.distillery.kit.config.Params;
import org.distillery.kit.data.Records;
import org.distillery.kit.io.ModelFiles;

/**
 * {@code moe.aggregate}: knowledge gathering of OneS (Xue et al., "One Student Knows All Experts
 * Know: From Sparse to Dense", arXiv 2201.10890). Builds a dense student with the MoE teacher's
 * hidden size, layers and attention, whose feed-forward block at each layer is gathered from the
 * teacher's experts ({@link Gathering}); every non-expert weight (embeddings, attention, norms,
 * output head) is copied bit for bit and the router is dropped. A Mixtral teacher gives a Mistral
 * student, a Qwen2-MoE teacher a Qwen2 student (its shared expert is appended to the gathered
 * block as extra units, scaled by {@code shared-expert-scale}; its dense layers are copied).
 * The student is written as a Hugging Face folder through the model service, then trained by the
 * stage like any other student. Deterministic: the calibration set is the first N records.
 *
 * <pre>
 * teacher { key = teacher.local, params { model-dir = ... } }
 * student.initializer { key = moe.aggregate, params { method = frequency, calibration-records = 64 } }
 * </pre>
 */
final class AggregateInitializer implements ModelInitializer {

    /** Registry key. */
    static final String KEY = "moe.aggregate";
    private static final String PREFIX = "student.initializer.params";
    private static final List<String> MOE_FIELDS = List.of("num_local_experts", "num_experts", "num_experts_per_tok",
            "moe_intermediate_size", "shared_expert_intermediate_size", "norm_topk_prob", "decoder_sparse_step",
            "mlp_only_layers", "router_aux_loss_coef", "output_router_logits", "router_jitter_noise", "torch_dtype");

    private final Params p;
    private final Gathering.Method method;
    private final Gathering.Merge merge;
    private final int keep;
    private final int svdRank;
    private final int intermediateSize;
    private final double sharedScale;

    AggregateInitializer(Config params) {
        p = Params.of(params, PREFIX);
        method = p.choice("method", Gathering.Method.class);
        merge = switch (method) {
            case TOP_K -> p.choice("top-k-merge", Gathering.Merge.class);
            case SVD -> p.choice("svd-merge", Gathering.Merge.class);
            default -> Gathering.Merge.AVERAGE;
        };
        keep = p.integer("top-k", 1);
        svdRank = p.integer("svd-rank", 0);
        intermediateSize = p.integer("intermediate-size", 0);
        sharedScale = p.nonNegative("shared-expert-scale");
        p.integer("calibration-records", 1);
        p.integer("calibration-max-length", 2);
        p.integer("calibration-batch-size", 1);
    }

    @Override
    public LanguageModel initialize(InitializerContext context, LanguageModel teacher) {
        RunResources run = context.resources();
        MoeLayout layout;
        try {
            layout = MoeLayout.of(teacher);
        } catch (IllegalArgumentException e) {
            throw new InvalidConfigException("student.initializer.key", KEY + " needs a sparse MoE teacher: "
                    + e.getMessage(), teacher.config().modelType(), String.join(", ", MoeLayout.SUPPORTED));
        }
        if (method == Gathering.Method.TOP_K && keep > layout.numExperts()) {
            throw new InvalidConfigException(p.at("top-k"), "exceeds the teacher's " + layout.numExperts()
                    + " experts", String.valueOf(keep), "1.." + layout.numExperts());
        }
        long[][] counts = Gathering.needsFrequencies(method, merge) ? calibrate(context, teacher, layout) : null;
        List<Map<String, Object>> report = new ArrayList<>();
        try (NDManager scratch = run.manager().newSubManager()) {
            Map<Integer, Gathering.Block> blocks = gather(teacher, layout, counts, scratch, report);
            int width = intermediateSize;
            if (width == 0) {
                for (Gathering.Block b : blocks.values()) {
                    width = Math.max(width, (int) b.width());
                }
            }
            ModelConfig config = studentConfig(teacher.config(), width);
            LanguageModel student = run.models().create(config, run.seed(), run.manager());
            try {
                fill(student, teacher, blocks, width, scratch);
                Path dir = outputDir(context);
                run.models().save(student, dir, DataType.FLOAT32);
                ModelFiles.copyTokenizer(context.tokenizerDir(), dir);
                Map<String, Object> event = new LinkedHashMap<>();
                event.put("method", Params.name(method));
                event.put("student", config.modelType());
                event.put("intermediate-size", width);
                event.put("dir", dir.toString());
                event.put("layers", report);
                run.events().event("moe.aggregate", event);
                return student;
            } catch (IOException | RuntimeException e) {
                student.close();
                if (e instanceof RuntimeException r) {
                    throw r;
                }
                throw new IllegalStateException("moe.aggregate: could not write the student: " + e.getMessage(), e);
            }
        }
    }

    /** The dense block of every layer, before widening or projection. */
    Map<Integer, Gathering.Block> gather(LanguageModel teacher, MoeLayout layout, long[][] counts, NDManager scratch,
                                         List<Map<String, Object>> report) {
        Map<String, NDArray> tp = teacher.parameters();
        Map<Integer, Gathering.Block> blocks = new LinkedHashMap<>();
        int sparseIndex = 0;
        for (MoeLayout.Layer layer : layout.layers()) {
            if (!layer.sparse()) {
                blocks.put(layer.index(), block(tp, layer.dense()));
                continue;
            }
            double[] c = Gathering.coefficients(method, merge, keep, counts == null ? null : counts[sparseIndex],
                    layout.numExperts());
            List<Gathering.Block> experts = new ArrayList<>();
            for (MoeLayout.Ffn f : layer.experts()) {
                Gathering.Block b = block(tp, f);
                if (method == Gathering.Method.SVD) {
                    int rank = svdRank > 0 ? svdRank : (int) Math.max(1, Math.min(b.width(), b.gate().getShape().get(1)) / 2);
                    b = Gathering.truncate(b, rank, scratch);
                }
                experts.add(b);
            }
            Gathering.Block merged = Gathering.mergeBlocks(experts, c, scratch);
            if (layer.shared() != null) {
                merged = Gathering.concat(merged, block(tp, layer.shared()), sharedScale);
            }
            blocks.put(layer.index(), merged);
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("layer", layer.index());
            List<Double> coef = new ArrayList<>();
            for (double x : c) {
                coef.add(x);
            }
            r.put("coefficients", coef);
            if (counts != null) {
                r.put("counts", RouterStats.asLists(new long[][] {counts[sparseIndex]}).get(0));
            }
            report.add(r);
            sparseIndex++;
        }
        return blocks;
    }

    private static Gathering.Block block(Map<String, NDArray> params, MoeLayout.Ffn f) {
        return new Gathering.Block(params.get(f.gate()), params.get(f.up()), params.get(f.down()));
    }

    /** Copies non-expert weights and writes each layer's block, widened or projected to {@code width}. */
    private static void fill(LanguageModel student, LanguageModel teacher, Map<Integer, Gathering.Block> blocks,
                             int width, NDManager scratch) {
        Map<String, NDArray> tp = teacher.parameters();
        for (Map.Entry<String, NDArray> e : student.parameters().entrySet()) {
            String name = e.getKey();
            NDArray target = e.getValue();
            NDArray source = null;
            if (name.matches("model\\.layers\\.\\d+\\.mlp\\.(gate|up|down)_proj\\.weight")) {
                int layer = Integer.parseInt(name.split("\\.")[2]);
                Gathering.Block b = blocks.get(layer);
                if (b.width() < width) {
                    b = Gathering.pad(b, width, scratch);
                } else if (b.width() > width) {
                    b = Gathering.project(b, width, scratch);
                }
                blocks.put(layer, b);
                source = name.contains(".gate_proj.") ? b.gate() : name.contains(".up_proj.") ? b.up() : b.down();
            } else {
                source = tp.get(name);
            }
            if (source == null || !source.getShape().equals(target.getShape())) {
                throw new IllegalStateException("moe.aggregate: no teacher weight of shape " + target.getShape()
                        + " for the student's " + name);
            }
            target.set(source.toType(target.getDataType(), false).toByteBuffer());
        }
    }

    /** The dense student's config: the teacher's, with the MoE fields replaced by one FFN width. */
    static ModelConfig studentConfig(ModelConfig teacher, int width) {
        boolean mixtral = teacher.modelType().equals("mixtral");
        String type = mixtral ? "mistral" : "qwen2";
        Map<String, Object> raw = new LinkedHashMap<>(teacher.raw());
        MOE_FIELDS.forEach(raw::remove);
        raw.put("model_type", type);
        raw.put("architectures", List.of(mixtral ? "MistralForCausalLM" : "Qwen2ForCausalLM"));
        raw.put("intermediate_size", (long) width);
        raw.put("num_key_value_heads", (long) teacher.numKeyValueHeads());
        // both MoE types default to 1e6, their dense counterparts to 1e4: make it explicit
        raw.putIfAbsent("rope_theta", 1e6);
        if (mixtral && !raw.containsKey("sliding_window")) {
            raw.put("sliding_window", null); // Mixtral's default; Mistral's would be 4096
        }
        return new ModelConfig(type, teacher.vocabSize(), teacher.hiddenSize(), teacher.numLayers(), teacher.numHeads(),
                teacher.numKeyValueHeads(), width, teacher.maxPositions(), raw);
    }

    /** Top-k routing counts per sparse layer on the first N calibration records. */
    private long[][] calibrate(InitializerContext context, LanguageModel teacher, MoeLayout layout) {
        String file = p.string("calibration-file");
        List<Example> records = context.datasets().read(file, Datasets.Split.TRAIN, p.at("calibration-file"));
        Tokenizer tok = context.tokenizer();
        int n = Math.min(records.size(), p.config().getInt("calibration-records"));
        List<int[]> seqs = new ArrayList<>();
        for (Example e : records.subList(0, n)) {
            seqs.add(Records.encode(e, tok, p.config().getInt("calibration-max-length")).ids());
        }
        long[][] counts = RouterStats.count(teacher, layout, seqs, p.config().getInt("calibration-batch-size"),
                tok.padId(), context.resources().manager());
        context.resources().events().event("moe.calibration", Map.of("file",
                context.datasets().resolve(file, Datasets.Split.TRAIN, p.at("calibration-file")).toString(),
                "records", n, "counts", RouterStats.asLists(counts)));
        return counts;
    }

    private Path outputDir(InitializerContext context) {
        String dir = p.string("output-dir");
        if (!dir.isEmpty()) {
            return Path.of(dir);
        }
        String render = p.config().root().render(ConfigRenderOptions.concise());
        String hash = Integer.toHexString(java.util.Arrays.hashCode(render.getBytes(StandardCharsets.UTF_8)));
        return context.workDir().resolve(KEY + "-" + Params.name(method) + "-" + hash);
    }

    /** Builds {@link AggregateInitializer}. */
    static final class Factory implements ModelInitializerFactory {
        @Override
        public String description() {
            return "dense student gathered from a MoE teacher's experts: sum, average, frequency, top-k, svd (OneS)";
        }

        @Override
        public ModelInitializer create(Config params) {
            return new AggregateInitializer(params);
        }
    }
}
