package org.distillery.multimodal.internal;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.SplittableRandom;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import com.typesafe.config.Config;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;

import org.distillery.api.InvalidConfigException;
import org.distillery.api.data.Datasets;
import org.distillery.api.data.Example;
import org.distillery.api.model.ForwardOptions;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.ModelOutput;
import org.distillery.api.model.Tokenizer;
import org.distillery.api.model.VisionInput;
import org.distillery.api.run.RunContext;
import org.distillery.api.train.Stage;
import org.distillery.api.train.StageResult;
import org.distillery.api.train.StageSpec;
import org.distillery.api.train.Trainer;
import org.distillery.api.train.TrainerFactory;
import org.distillery.kit.config.Params;
import org.distillery.kit.data.Records;
import org.distillery.kit.io.AtomicFiles;
import org.distillery.kit.optim.AdamW;
import org.distillery.kit.loss.Scalars;

/**
 * {@code vikdf.train}: the stages of VIKDF (Zhang et al., Information Fusion 118:102985, 2025;
 * arXiv 2405.10121; zhangbo-nlp/VIKDF), at the embedded scale. Its {@code phase}:
 * <ul>
 *   <li>{@code iqformer}: the {@link IqFormer} learns from image–caption pairs, the image features
 *       coming from a frozen LLaVA model's vision tower and projector ({@code vision-from}), the text
 *       from the language model's frozen token embeddings: {@code itc}·InfoNCE(text queries, image
 *       queries) + {@code mim}·L1 of masked patch features (a share {@code mim-ratio}) rebuilt from the
 *       text queries + {@code mlm}·CE of masked caption tokens ({@code mlm-ratio}) predicted from the
 *       image queries (the reference code's 0.5, 0.2, 0.2);</li>
 *   <li>{@code bvif}: bidirectional fusion into the frozen language model through {@code llm_proj}:
 *       {@code i2t}·CE of the caption generated after the projected image queries + {@code t2i}·MSE
 *       between the image queries and the model's states at learned slots after the caption, mapped
 *       back by {@code t2i_proj} (1.0 and 0.5);</li>
 *   <li>{@code sft}: zero-resource instruction tuning on text-only records: the language model and
 *       {@code llm_proj} learn to answer with the IQ-Former's queries of the prompt text in front
 *       (the frozen IQ-Former imagines the scene from the words); {@code use-queries = false} trains
 *       the same without them, the baseline;</li>
 *   <li>{@code evaluate}: greedy answers of the {@code students} (stage names) on text-only records,
 *       each with its queries if it has an IQ-Former; exact-answer accuracy overall and per
 *       question type in {@code eval/<student>.json} and {@code results.md}.</li>
 * </ul>
 * A stage's output folder holds the language model (a Hugging Face folder) and the IQ-Former
 * ({@code iqformer.params}, {@code iqformer.json}); the next stage starts from it ({@code init-from}).
 * Checkpoints every {@code checkpoint-every} steps let a stopped run resume inside a stage.
 */
final class VikdfTrainer implements Trainer {

    /** Registry key. */
    static final String KEY = "vikdf.train";

    private static final Gson GSON = new GsonBuilder().setPrettyPrinting().serializeSpecialFloatingPointValues().create();

    @Override
    public StageResult run(RunContext run, Stage stage) throws Exception {
        if (!(stage instanceof StageSpec spec)) {
            throw new IllegalArgumentException(KEY + " runs stages with their own parameters, not " + stage);
        }
        Params p = Params.of(spec.params(), "method.params (stage " + stage.name() + ")");
        String phase = p.choice("phase", "iqformer", "bvif", "sft", "evaluate");
        Path stageDir = run.runDir().resolve("stages").resolve(stage.name());
        Files.createDirectories(stageDir);
        if (phase.equals("evaluate")) {
            return evaluate(run, p, stage.name());
        }
        return new Training(run, p, phase, stageDir).run();
    }

    /** The language model and IQ-Former a stage starts from: an earlier stage's output, else the given folders. */
    private static Path startFolder(RunContext run, Params p) {
        String from = p.string("init-from");
        if (from.isEmpty()) {
            return null;
        }
        Path dir = run.runDir().resolve("stages").resolve(from).resolve("final");
        if (!Files.isDirectory(dir)) {
            throw new InvalidConfigException(p.at("init-from"), "no finished stage of that name in this run", from,
                    "an earlier VIKDF stage");
        }
        return dir;
    }

    private static LanguageModel loadModel(RunContext run, Path dir, NDManager m, String where) {
        try {
            return run.models().load(dir, DataType.FLOAT32, m);
        } catch (IOException | RuntimeException e) {
            throw new InvalidConfigException(where, e.getMessage(), dir.toString(), "a loadable Hugging Face model folder");
        }
    }

    /** One training stage. */
    private static final class Training {
        final RunContext run;
        final Params p;
        final String phase;
        final Path stageDir;
        final long steps;
        final int batchSize;
        final int maxLength;
        final double lr;
        final Config weights;
        final boolean useQueries;

        Training(RunContext run, Params p, String phase, Path stageDir) {
            this.run = run;
            this.p = p;
            this.phase = phase;
            this.stageDir = stageDir;
            this.steps = p.longInteger("steps", 1);
            this.batchSize = p.integer("batch-size", 1);
            this.maxLength = p.integer("max-length", 8);
            this.lr = p.positive("lr");
            this.weights = p.config().getConfig("weights");
            this.useQueries = !phase.equals("sft") || p.bool("use-queries");
        }

        StageResult run() throws Exception {
            Path start = startFolder(run, p);
            Path lmDir = start != null ? start : Path.of(p.string("language-model"));
            if (start == null && p.string("language-model").isEmpty()) {
                throw new InvalidConfigException(p.at("language-model"), "is required", "\"\"", "a text model folder");
            }
            Tokenizer tok;
            try {
                tok = run.models().tokenizer(lmDir);
            } catch (IOException | RuntimeException e) {
                throw new InvalidConfigException(p.at("language-model"), "has no tokenizer: " + e.getMessage(),
                        lmDir.toString(), "a model folder with tokenizer_config.json or tokenizer.json");
            }
            String fileRef = p.string("file");
            List<Example> records = run.datasets().read(fileRef, Datasets.Split.TRAIN, p.at("file"));
            if (records.isEmpty()) {
                throw new InvalidConfigException(p.at("file"), "has no records", fileRef, "a non-empty JSONL file");
            }
            boolean images = !phase.equals("sft");
            for (Example e : records) {
                if (images != e.hasImage() || Records.responseText(e).isEmpty()) {
                    throw new InvalidConfigException(p.at("file"), "record " + e.id() + (images
                            ? " needs an image and a caption (image-caption pairs)"
                            : " must be a text-only prompt/response record (zero-resource instruction data)"),
                            fileRef, images ? "image-caption pairs" : "text-only records");
                }
            }
            try (NDManager models = run.manager().newSubManager()) {
                LanguageModel lm = loadModel(run, lmDir, models, p.at("language-model"));
                LanguageModel vision = null;
                if (images) {
                    String v = p.string("vision-from");
                    vision = loadModel(run, Path.of(v), models, p.at("vision-from"));
                    if (vision.vision().isEmpty()) {
                        throw new InvalidConfigException(p.at("vision-from"), "needs a LLaVA model", v, "a llava folder");
                    }
                }
                IqFormer iq;
                if (start != null && IqFormer.present(start)) {
                    iq = IqFormer.load(start, models);
                } else if (!phase.equals("iqformer") && useQueries) {
                    throw new InvalidConfigException(p.at("init-from"), "the " + phase + " phase needs an IQ-Former from "
                            + "an earlier stage", p.string("init-from"), "the iqformer or bvif stage");
                } else {
                    VisionInput vi = vision == null ? null : vision.vision().get();
                    Params d = p.child("iqformer");
                    iq = IqFormer.create(new IqFormer.Dims(d.integer("queries", 1), d.integer("width", 4),
                            d.integer("layers", 1), d.integer("heads", 1),
                            vision == null ? 1 : vision.config().hiddenSize(), vi == null ? 1 : vi.tokensPerImage(),
                            lm.config().hiddenSize(), lm.config().vocabSize(), d.integer("max-text", 8)),
                            run.seed(), models);
                }
                Map<String, NDArray> trained = trainable(iq, lm);
                trained.values().forEach(a -> a.setRequiresGradient(true));
                AdamW opt = new AdamW(trained, 0.9f, 0.999f, 1e-8f, (float) p.nonNegative("weight-decay"), run.manager());
                Batches data = new Batches(records, batchSize, run.seed());
                long step = restore(iq, lm, opt, data, models);
                long checkpointEvery = p.longInteger("checkpoint-every", 0);
                boolean stopped = false;
                double last = Double.NaN;
                while (step < steps) {
                    if (run.stopRequested()) {
                        stopped = true;
                        break;
                    }
                    double rate = lr * 0.5 * (1 + Math.cos(Math.PI * step / steps));
                    last = step(step, data.next(), tok, lm, vision, iq, trained, opt, rate);
                    step++;
                    if (checkpointEvery > 0 && step % checkpointEvery == 0 && step < steps) {
                        checkpoint(iq, lm, opt, data, step);
                    }
                }
                trained.values().forEach(a -> a.setRequiresGradient(false));
                if (stopped) {
                    checkpoint(iq, lm, opt, data, step);
                    return new StageResult(step, null, Map.of(), true);
                }
                Path out = stageDir.resolve("final");
                Path staging = AtomicFiles.staging(out);
                run.models().save(lm, staging, DataType.FLOAT32);
                copyTokenizer(lmDir, staging);
                if (useQueries) {
                    iq.save(staging);
                }
                AtomicFiles.commit(staging, out);
                return new StageResult(step, out, Map.of("train.loss", last), false);
            }
        }

        /** The stage's checkpoints folder. */
        Path checkpoints() {
            return stageDir.resolve("checkpoints");
        }

        /** Writes the trained state (IQ-Former, language model in sft, optimizer, data position) atomically. */
        void checkpoint(IqFormer iq, LanguageModel lm, AdamW opt, Batches data, long step) throws IOException {
            String name = String.format(Locale.ROOT, "step-%08d", step);
            Path target = checkpoints().resolve(name);
            Path staging = AtomicFiles.staging(target);
            iq.save(staging);
            if (phase.equals("sft")) {
                run.models().save(lm, staging.resolve("model"), DataType.FLOAT32);
            }
            try (OutputStream out = Files.newOutputStream(staging.resolve("optimizer.bin"))) {
                opt.save(out);
            }
            JsonObject state = new JsonObject();
            state.addProperty("step", step);
            state.addProperty("epoch", data.epoch);
            state.addProperty("index", data.index);
            Files.writeString(staging.resolve("state.json"), GSON.toJson(state));
            AtomicFiles.commit(staging, target);
            AtomicFiles.writeString(checkpoints().resolve("latest"), name + "\n");
            run.events().event("checkpoint", Map.of("step", step, "path", target.toString()));
        }

        /** Restores the latest checkpoint of this stage, if any; returns the step to continue from. */
        long restore(IqFormer iq, LanguageModel lm, AdamW opt, Batches data, NDManager scratchParent)
                throws IOException {
            Path latest = checkpoints().resolve("latest");
            if (!Files.exists(latest)) {
                return 0;
            }
            Path dir = checkpoints().resolve(Files.readString(latest).trim());
            try (NDManager scratch = scratchParent.newSubManager()) {
                IqFormer saved = IqFormer.load(dir, scratch);
                for (Map.Entry<String, NDArray> e : iq.params.entrySet()) {
                    e.getValue().set(saved.params.get(e.getKey()).toByteBuffer());
                }
                if (phase.equals("sft")) {
                    LanguageModel savedLm = run.models().load(dir.resolve("model"), DataType.FLOAT32, scratch);
                    for (Map.Entry<String, NDArray> e : lm.parameters().entrySet()) {
                        e.getValue().set(savedLm.parameters().get(e.getKey()).toByteBuffer());
                    }
                }
            }
            try (InputStream in = Files.newInputStream(dir.resolve("optimizer.bin"))) {
                opt.load(in);
            }
            JsonObject state = GSON.fromJson(Files.readString(dir.resolve("state.json")), JsonObject.class);
            data.reorder(state.get("epoch").getAsInt());
            data.index = state.get("index").getAsInt();
            long step = state.get("step").getAsLong();
            run.events().event("resumed", Map.of("stage", stageDir.getFileName().toString(), "step", step));
            return step;
        }

        /** What trains: the IQ-Former's parts of this phase, and the language model in sft. */
        Map<String, NDArray> trainable(IqFormer iq, LanguageModel lm) {
            Map<String, NDArray> t = new LinkedHashMap<>();
            iq.params.forEach((n, a) -> {
                boolean proj = n.startsWith("llm_proj.");
                boolean t2i = n.startsWith("t2i_");
                boolean take = switch (phase) {
                    case "iqformer" -> !proj && !t2i;
                    case "bvif" -> !n.startsWith("mim.") && !n.startsWith("mlm.") && !n.startsWith("itc.");
                    default -> useQueries && proj;
                };
                if (take) {
                    t.put("iqformer." + n, a);
                }
            });
            if (phase.equals("sft")) {
                lm.parameters().forEach((n, a) -> t.put("lm." + n, a));
            }
            return t;
        }

        double step(long step, List<Example> batch, Tokenizer tok, LanguageModel lm, LanguageModel vision, IqFormer iq,
                    Map<String, NDArray> trained, AdamW opt, double rate) {
            Engine.getInstance().setRandomSeed((int) (run.seed() * 7919 + step));
            SplittableRandom masks = new SplittableRandom(run.seed() * 31 + step);
            Map<String, Object> terms = new LinkedHashMap<>();
            double value;
            try (NDManager m = run.tensors().newStepScope(run.manager());
                 GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                NDArray loss = switch (phase) {
                    case "iqformer" -> pretrain(batch, tok, lm, vision, iq, masks, m, terms);
                    case "bvif" -> fusion(batch, tok, lm, vision, iq, m, terms);
                    default -> instruct(batch, tok, lm, iq, m, terms);
                };
                value = loss.getFloat();
                gc.backward(loss);
            }
            double norm = opt.stepClipped(rate, p.nonNegative("clip-norm"));
            Map<String, Object> fig = new LinkedHashMap<>();
            fig.put("stage", stageDir.getFileName().toString());
            fig.put("of", steps);
            fig.put("loss", value);
            fig.put("terms", terms);
            fig.put("lr", rate);
            fig.put("grad-norm", norm);
            run.events().step(step + 1, fig);
            return value;
        }

        /** The image features [b, tokens, width] of the records' images from the frozen LLaVA model. */
        NDArray imageFeatures(List<Example> batch, LanguageModel vision, NDManager m) {
            VisionInput vi = vision.vision().get();
            NDArray px = Records.pixelValues(batch, vi, m);
            int per = vi.tokensPerImage();
            long[] ids = new long[batch.size() * per];
            java.util.Arrays.fill(ids, vi.imageTokenId());
            ModelOutput out = vision.forward(m.create(ids, new Shape(batch.size(), per)),
                    ForwardOptions.inference().withPixelValues(px));
            out.logits().attach(m);
            NDArray f = out.imageFeatures();
            f.attach(m);
            return f.stopGradient();
        }

        /** Caption ids [b, t] (right-padded with pad) and their mask, cut to the IQ-Former's positions. */
        NDArray[] captionIds(List<Example> batch, Tokenizer tok, IqFormer iq, NDManager m) {
            List<int[]> ids = new ArrayList<>();
            int len = 1;
            for (Example e : batch) {
                int[] t = tok.encode(Records.responseText(e));
                t = java.util.Arrays.copyOf(t, Math.max(1, Math.min(t.length, iq.dims.maxText())));
                ids.add(t);
                len = Math.max(len, t.length);
            }
            long[] flat = new long[batch.size() * len];
            float[] mask = new float[batch.size() * len];
            java.util.Arrays.fill(flat, tok.padId());
            for (int i = 0; i < ids.size(); i++) {
                for (int t = 0; t < ids.get(i).length; t++) {
                    flat[i * len + t] = ids.get(i)[t];
                    mask[i * len + t] = 1;
                }
            }
            return new NDArray[] {m.create(flat, new Shape(batch.size(), len)), m.create(mask, new Shape(batch.size(), len))};
        }

        NDArray pretrain(List<Example> batch, Tokenizer tok, LanguageModel lm, LanguageModel vision, IqFormer iq,
                         SplittableRandom masks, NDManager m, Map<String, Object> terms) {
            NDArray feats = imageFeatures(batch, vision, m);
            NDArray[] cap = captionIds(batch, tok, iq, m);
            NDArray emb = lm.embedTokens(cap[0]).stopGradient();
            NDArray qi = iq.imageQueries(feats);
            NDArray qt = iq.textQueries(emb, cap[1]);
            NDArray itc = contrastive(iq, qt, qi, m);
            NDArray mim = maskedImage(iq, feats, qt, masks, m);
            NDArray mlm = maskedText(iq, cap, emb, qi, tok.vocabSize(), masks, m);
            terms.put("itc", itc.getFloat());
            terms.put("mim", mim.getFloat());
            terms.put("mlm", mlm.getFloat());
            return weighted(itc, "itc").add(weighted(mim, "mim")).add(weighted(mlm, "mlm"));
        }

        NDArray weighted(NDArray x, String key) {
            return x.mul(Scalars.of(x, weights.getDouble(key)));
        }

        /** Symmetric InfoNCE between mean-pooled text and image queries (image–text matching). */
        NDArray contrastive(IqFormer iq, NDArray qt, NDArray qi, NDManager m) {
            return infoNce(iq.dense0(qt.mean(new int[] {1}), "itc"), iq.dense0(qi.mean(new int[] {1}), "itc"),
                    p.positive("temperature"), m);
        }

        /** L1 between the masked patches' features and their reconstruction from the text queries. */
        NDArray maskedImage(IqFormer iq, NDArray feats, NDArray qt, SplittableRandom r, NDManager m) {
            long b = feats.getShape().get(0);
            int n = (int) feats.getShape().get(1);
            float[] mask = new float[(int) b * n];
            int hidden = Math.max(1, (int) Math.round(p.fraction("mim-ratio") * n));
            for (int i = 0; i < b; i++) {
                int[] order = permutation(n, r);
                for (int k = 0; k < hidden; k++) {
                    mask[i * n + order[k]] = 1;
                }
            }
            NDArray mk = m.create(mask, new Shape(b, n, 1));
            NDArray visible = iq.dense(feats, "image_in");
            NDArray x = visible.mul(Scalars.of(mk, 1.0).sub(mk)).add(mk.mul(iq.p("mim.mask")))
                    .add(iq.p("mim.pos").expandDims(0));
            NDArray pred = iq.dense(iq.block("mim.block.", x, qt, null, null), "mim.out");
            return maskedL1(pred, feats, mk);
        }

        /** CE of the masked caption tokens predicted from the image queries. */
        NDArray maskedText(IqFormer iq, NDArray[] cap, NDArray emb, NDArray qi, int vocab, SplittableRandom r,
                           NDManager m) {
            long b = cap[0].getShape().get(0);
            int t = (int) cap[0].getShape().get(1);
            float[] valid = cap[1].toFloatArray();
            float[] mask = new float[(int) b * t];
            for (int i = 0; i < b; i++) {
                int len = 0;
                for (int k = 0; k < t; k++) {
                    len += valid[i * t + k] > 0 ? 1 : 0;
                }
                int hide = Math.max(1, (int) Math.round(p.fraction("mlm-ratio") * len));
                int[] order = permutation(len, r);
                for (int k = 0; k < hide && k < len; k++) {
                    mask[i * t + order[k]] = 1;
                }
            }
            NDArray mk = m.create(mask, new Shape(b, t, 1));
            NDArray x = iq.dense(emb, "text_in").mul(Scalars.of(mk, 1.0).sub(mk)).add(mk.mul(iq.p("mlm.mask")))
                    .add(iq.p("text_pos").get(":" + t).expandDims(0));
            NDArray logits = iq.dense(iq.block("mlm.block.", x, qi, null, cap[1]), "mlm.out");
            return maskedCrossEntropy(logits, cap[0], mk.squeeze(-1));
        }

        /** I2T caption CE after the projected image queries, and T2I query matching from the caption. */
        NDArray fusion(List<Example> batch, Tokenizer tok, LanguageModel lm, LanguageModel vision, IqFormer iq,
                       NDManager m, Map<String, Object> terms) {
            NDArray feats = imageFeatures(batch, vision, m);
            NDArray qi = iq.imageQueries(feats);
            List<Records.Encoded> seqs = new ArrayList<>();
            for (Example e : batch) {
                // the caption alone: bos, caption, eos
                seqs.add(Records.join(Records.withBos(new int[0], tok), Records.responseIds(e, tok), maxLength));
            }
            Prefixed i2t = prefixed(seqs, iq.dense(qi, "llm_proj"), lm, tok, m);
            NDArray ce = i2t.crossEntropy();
            // T2I: the caption, then the slots; the model's last states at the slots, back into query space
            long b = batch.size();
            int q = iq.dims.queries();
            NDArray text = lm.embedTokens(i2t.ids).stopGradient();
            NDArray slots = iq.p("t2i_slots").expandDims(0).broadcast(new Shape(b, q, lm.config().hiddenSize()));
            NDArray inputs = text.concat(slots, 1);
            NDArray mask = i2t.mask.concat(m.ones(new Shape(b, q)), 1);
            ModelOutput out = lm.forward(m.zeros(new Shape(b, i2t.length + q), DataType.INT64),
                    ForwardOptions.train().withMask(mask).withInputEmbeddings(inputs).withHiddenStates());
            List<NDArray> hidden = out.hiddenStates();
            NDArray states = hidden.get(hidden.size() - 1).get(":, " + i2t.length + ":, :");
            NDArray mse = iq.dense(states, "t2i_proj").sub(qi).square().mean();
            terms.put("i2t", ce.getFloat());
            terms.put("t2i", mse.getFloat());
            return weighted(ce, "i2t").add(weighted(mse, "t2i"));
        }

        /** Zero-resource instruction tuning: CE of the response after the text queries of the prompt (or none). */
        NDArray instruct(List<Example> batch, Tokenizer tok, LanguageModel lm, IqFormer iq, NDManager m,
                         Map<String, Object> terms) {
            List<Records.Encoded> seqs = new ArrayList<>();
            for (Example e : batch) {
                seqs.add(Records.encode(e, tok, maxLength));
            }
            NDArray prefix = useQueries ? iq.dense(queriesOfPrompts(batch, tok, lm, iq, m), "llm_proj") : null;
            NDArray ce = prefixed(seqs, prefix, lm, tok, m).crossEntropy();
            terms.put("ce", ce.getFloat());
            return ce;
        }
    }

    /** The IQ-Former's text queries [b, queries, width] of the records' prompt texts (no gradient). */
    static NDArray queriesOfPrompts(List<Example> batch, Tokenizer tok, LanguageModel lm, IqFormer iq, NDManager m) {
        List<int[]> ids = new ArrayList<>();
        int len = 1;
        for (Example e : batch) {
            int[] t = tok.encode(Records.promptText(e, tok));
            t = java.util.Arrays.copyOf(t, Math.max(1, Math.min(t.length, iq.dims.maxText())));
            ids.add(t);
            len = Math.max(len, t.length);
        }
        long[] flat = new long[batch.size() * len];
        float[] mask = new float[batch.size() * len];
        java.util.Arrays.fill(flat, tok.padId());
        for (int i = 0; i < ids.size(); i++) {
            for (int t = 0; t < ids.get(i).length; t++) {
                flat[i * len + t] = ids.get(i)[t];
                mask[i * len + t] = 1;
            }
        }
        NDArray idArr = m.create(flat, new Shape(batch.size(), len));
        NDArray emb = lm.embedTokens(idArr).stopGradient();
        return iq.textQueries(emb, m.create(mask, new Shape(batch.size(), len))).stopGradient();
    }

    /**
     * A right-padded batch of sequences with an optional prefix of embeddings [b, k, hidden] in front,
     * run through the model: {@link #crossEntropy()} is the mean CE of the counted tokens.
     */
    private static final class Prefixed {
        NDArray ids;
        NDArray mask;
        NDArray logits;
        NDArray targets;
        NDArray lossMask;
        long length;
        long prefix;

        NDArray crossEntropy() {
            return maskedCrossEntropy(logits.get(":, " + prefix + ":, :"), targets, lossMask);
        }
    }

    // ------------------------------------------------------------------------ the objectives

    /**
     * Symmetric InfoNCE of paired rows: with {@code t} and {@code i} normalised to unit length and
     * {@code S = t iᵀ / temperature}, the mean of the cross-entropies of the diagonal over S's rows
     * (text to image) and over its columns (image to text), halved. Rows of {@code [b, d]}.
     */
    static NDArray infoNce(NDArray text, NDArray image, double temperature, NDManager m) {
        NDArray logits = unit(text).matMul(unit(image).transpose());
        logits = logits.mul(Scalars.of(logits, 1.0 / temperature));
        long b = logits.getShape().get(0);
        NDArray labels = m.arange(0, (int) b, 1, DataType.INT64).reshape(b, 1);
        NDArray t2i = logits.logSoftmax(-1).gather(labels, 1).mean().neg();
        NDArray i2t = logits.transpose().logSoftmax(-1).gather(labels, 1).mean().neg();
        NDArray both = t2i.add(i2t);
        return both.mul(Scalars.of(both, 0.5));
    }

    /** Rows scaled to unit L2 length (a zero row stays zero). */
    static NDArray unit(NDArray x) {
        NDArray n = x.square().sum(new int[] {-1}, true).sqrt();
        return x.div(n.maximum(Scalars.of(n, 1e-8)));
    }

    /**
     * Masked image modelling's L1: |prediction − target| summed over the masked positions
     * ({@code mask} [b, n, 1] of 0/1) and every feature, divided by their count (masked positions ×
     * feature width), so the figure is the mean absolute error of one masked feature.
     */
    static NDArray maskedL1(NDArray prediction, NDArray target, NDArray mask) {
        NDArray l1 = prediction.sub(target).abs().mul(mask).sum();
        double count = Math.max(1, mask.sum().getFloat()) * target.getShape().get(2);
        return l1.div(Scalars.of(l1, count));
    }

    /** The mean cross-entropy of {@code targets} [b, t] under {@code logits} [b, t, v] over the positions where {@code mask} is 1. */
    static NDArray maskedCrossEntropy(NDArray logits, NDArray targets, NDArray mask) {
        NDArray lp = logits.logSoftmax(-1).gather(targets.expandDims(-1), -1).squeeze(-1);
        NDArray ce = lp.mul(mask).sum().neg();
        return ce.div(Scalars.of(ce, Math.max(1, mask.sum().getFloat())));
    }

    private static Prefixed prefixed(List<Records.Encoded> seqs, NDArray prefix, LanguageModel lm, Tokenizer tok,
                                     NDManager m) {
        var b = Records.batch(seqs, tok.padId(), m);
        Prefixed r = new Prefixed();
        r.ids = b.inputIds();
        r.mask = b.attentionMask();
        r.targets = b.targets();
        r.lossMask = b.lossMask();
        r.length = b.inputIds().getShape().get(1);
        NDArray emb = lm.embedTokens(b.inputIds());
        long rows = seqs.size();
        ForwardOptions o = ForwardOptions.train();
        if (prefix == null) {
            r.prefix = 0;
            r.logits = lm.forward(b.inputIds(), o.withMask(r.mask)).logits();
            return r;
        }
        long k = prefix.getShape().get(1);
        r.prefix = k;
        NDArray inputs = prefix.concat(emb, 1);
        NDArray mask = m.ones(new Shape(rows, k)).concat(r.mask, 1);
        r.logits = lm.forward(m.zeros(new Shape(rows, k + r.length), DataType.INT64),
                o.withMask(mask).withInputEmbeddings(inputs)).logits();
        return r;
    }

    /** A random order of 0..n-1. */
    private static int[] permutation(int n, SplittableRandom r) {
        int[] a = new int[n];
        for (int i = 0; i < n; i++) {
            a[i] = i;
        }
        for (int i = n - 1; i > 0; i--) {
            int j = r.nextInt(i + 1);
            int t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
        return a;
    }

    private static void copyTokenizer(Path from, Path to) throws IOException {
        for (String f : List.of("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")) {
            if (Files.exists(from.resolve(f))) {
                Files.copy(from.resolve(f), to.resolve(f), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            }
        }
    }

    /** Shuffled batches of records, reshuffled each epoch from the seed; its position is saved with checkpoints. */
    private static final class Batches {
        final List<Example> records;
        final int size;
        final long seed;
        List<Integer> order;
        int epoch;
        int index;

        Batches(List<Example> records, int size, long seed) {
            this.records = records;
            this.size = size;
            this.seed = seed;
            reorder(0);
        }

        void reorder(int e) {
            epoch = e;
            index = 0;
            order = new ArrayList<>();
            for (int i = 0; i < records.size(); i++) {
                order.add(i);
            }
            Collections.shuffle(order, new Random(seed * 1_000_003L + e));
        }

        List<Example> next() {
            List<Example> out = new ArrayList<>(size);
            while (out.size() < size) {
                if (index >= order.size()) {
                    reorder(epoch + 1);
                }
                out.add(records.get(order.get(index++)));
            }
            return out;
        }
    }

    // ------------------------------------------------------------------------ evaluation

    private static StageResult evaluate(RunContext run, Params p, String stageName) throws Exception {
        String fileRef = p.string("file");
        List<Example> records = run.datasets().read(fileRef, Datasets.Split.TEST, p.at("file"));
        int limit = p.integer("limit", 0);
        if (limit > 0 && records.size() > limit) {
            records = records.subList(0, limit);
        }
        int maxNew = p.integer("max-new-tokens", 1);
        int batch = p.integer("batch-size", 1);
        Map<String, Map<String, Double>> results = new LinkedHashMap<>();
        for (String student : p.strings("students")) {
            Path dir = run.runDir().resolve("stages").resolve(student).resolve("final");
            if (!Files.isDirectory(dir)) {
                throw new InvalidConfigException(p.at("students"), "no finished stage of that name", student,
                        "an earlier VIKDF stage");
            }
            long t0 = System.nanoTime();
            List<String> predictions = new ArrayList<>();
            try (NDManager models = run.manager().newSubManager()) {
                LanguageModel lm = loadModel(run, dir, models, p.at("students"));
                Tokenizer tok = run.models().tokenizer(dir);
                IqFormer iq = IqFormer.present(dir) ? IqFormer.load(dir, models) : null;
                for (int i = 0; i < records.size(); i += batch) {
                    List<Example> part = records.subList(i, Math.min(records.size(), i + batch));
                    try (NDManager m = run.tensors().newStepScope(run.manager())) {
                        predictions.addAll(generate(part, tok, lm, iq, maxNew, m));
                    }
                }
            }
            Map<String, Double> figures = new AccuracyMetric(List.of(), List.of("caption")).evaluate(
                    new org.distillery.api.metric.EvalContext(run, null, null, null, records, predictions));
            results.put(student, figures);
            JsonObject o = new JsonObject();
            o.addProperty("model", student);
            o.add("metrics", GSON.toJsonTree(figures));
            o.addProperty("queries", IqFormer.present(dir));
            AtomicFiles.writeString(run.runDir().resolve("eval").resolve(student + ".json"), GSON.toJson(o) + "\n");
            StringBuilder lines = new StringBuilder();
            for (int i = 0; i < records.size(); i++) {
                Map<String, Object> line = new LinkedHashMap<>();
                line.put("id", records.get(i).id());
                line.put("prompt", records.get(i).prompt());
                line.put("reference", Records.responseText(records.get(i)));
                line.put("prediction", predictions.get(i));
                lines.append(new Gson().toJson(line)).append('\n');
            }
            AtomicFiles.writeString(run.runDir().resolve("eval").resolve(student + ".predictions.jsonl"),
                    lines.toString());
            run.events().event("evaluated", Map.of("model", student, "seconds", (System.nanoTime() - t0) / 1e9,
                    "metrics", figures));
        }
        List<String> columns = new ArrayList<>();
        results.values().forEach(f -> f.keySet().forEach(k -> {
            if (!columns.contains(k)) {
                columns.add(k);
            }
        }));
        StringBuilder table = new StringBuilder("| model |");
        columns.forEach(c -> table.append(' ').append(c).append(" |"));
        table.append("\n|---|");
        columns.forEach(c -> table.append("---:|"));
        table.append('\n');
        results.forEach((model, f) -> {
            table.append("| ").append(model).append(" |");
            columns.forEach(c -> table.append(' ').append(f.containsKey(c)
                    ? String.format(Locale.ROOT, "%.4f", f.get(c)) : "").append(" |"));
            table.append('\n');
        });
        AtomicFiles.writeString(run.runDir().resolve("results.md"), table.toString());
        Map<String, Double> flat = new LinkedHashMap<>();
        results.forEach((model, figs) -> figs.forEach((k, v) -> flat.put(model + "." + k, v)));
        return new StageResult(0, null, flat, false);
    }

    /** Greedy answers with the IQ-Former's queries of each prompt in front (none without an IQ-Former). */
    static List<String> generate(List<Example> part, Tokenizer tok, LanguageModel lm, IqFormer iq, int maxNew,
                                 NDManager m) {
        int b = part.size();
        List<int[]> prompts = new ArrayList<>();
        int longest = 0;
        for (Example e : part) {
            int[] ids = Records.promptIds(e, tok);
            prompts.add(ids);
            longest = Math.max(longest, ids.length);
        }
        NDArray prefix = iq == null ? null : iq.dense(queriesOfPrompts(part, tok, lm, iq, m), "llm_proj");
        int k = prefix == null ? 0 : (int) prefix.getShape().get(1);
        int total = longest + maxNew;
        long[][] ids = new long[b][total];
        float[][] mask = new float[b][total];
        for (int i = 0; i < b; i++) {
            int[] pr = prompts.get(i);
            int off = longest - pr.length;
            java.util.Arrays.fill(ids[i], tok.padId());
            for (int j = 0; j < pr.length; j++) {
                ids[i][off + j] = pr[j];
                mask[i][off + j] = 1;
            }
        }
        List<List<Integer>> out = new ArrayList<>();
        boolean[] done = new boolean[b];
        for (int i = 0; i < b; i++) {
            out.add(new ArrayList<>());
        }
        for (int step = 0; step < maxNew; step++) {
            int len = longest + step;
            long[] flat = new long[b * len];
            float[] fm = new float[b * (len + k)];
            for (int i = 0; i < b; i++) {
                System.arraycopy(ids[i], 0, flat, i * len, len);
                for (int j = 0; j < k; j++) {
                    fm[i * (len + k) + j] = 1;
                }
                for (int j = 0; j < len; j++) {
                    fm[i * (len + k) + k + j] = mask[i][j];
                }
            }
            try (NDManager s = m.newSubManager()) {
                NDArray idArr = s.create(flat, new Shape(b, len));
                NDArray fullMask = s.create(fm, new Shape(b, len + k));
                ForwardOptions o = ForwardOptions.inference().withMask(fullMask);
                NDArray logits;
                if (prefix == null) {
                    logits = lm.forward(idArr, o).logits();
                } else {
                    NDArray inputs = prefix.concat(lm.embedTokens(idArr), 1);
                    logits = lm.forward(s.zeros(new Shape(b, len + k), DataType.INT64), o.withInputEmbeddings(inputs))
                            .logits();
                }
                long[] next = logits.get(":, -1, :").argMax(-1).toType(DataType.INT64, false).toLongArray();
                boolean all = true;
                for (int i = 0; i < b; i++) {
                    if (!done[i]) {
                        if (next[i] == tok.eosId()) {
                            done[i] = true;
                        } else {
                            out.get(i).add((int) next[i]);
                        }
                    }
                    ids[i][len] = done[i] ? tok.padId() : next[i];
                    mask[i][len] = 1;
                    all &= done[i];
                }
                if (all) {
                    break;
                }
            }
        }
        List<String> texts = new ArrayList<>();
        for (List<Integer> o : out) {
            texts.add(tok.decode(o.stream().mapToInt(Integer::intValue).toArray()));
        }
        return texts;
    }

    /** The factory. */
    static final class Factory implements TrainerFactory {
        @Override
        public String description() {
            return "VIKDF stages: IQ-Former pre-training, bidirectional fusion, zero-resource instruction tuning, evaluation";
        }

        @Override
        public Trainer create() {
            return new VikdfTrainer();
        }
    }
}
