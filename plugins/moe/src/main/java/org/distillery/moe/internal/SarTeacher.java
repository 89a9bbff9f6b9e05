package org.distillery.moe.internal;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.typesafe.config.Config;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;

import org.distillery.api.data.TokenBatch;
import org.distillery.api.model.ForwardOptions;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.ModelOutput;
import org.distillery.api.run.RunResources;
import org.distillery.api.teacher.Teacher;
import org.distillery.api.teacher.TeacherContext;
import org.distillery.api.teacher.TeacherFactory;
import org.distillery.api.teacher.TeacherOutput;
import org.distillery.kit.config.Params;
import org.distillery.kit.loss.Scalars;
import org.distillery.kit.optim.AdamW;
import org.distillery.kit.teacher.ModelTeacher;

/**
 * {@code moe.sar}: the Student-Aware Router teacher (Kim, Chu, Yang, "Every Expert Matters",
 * arXiv 2502.12947, as coded in gmkim-ai/MoEKD {@code finetune_sfr.py}). The MoE teacher runs
 * with every expert active, mixed by the router's dense softmax ({@link DenseRouting}), and its
 * router adapts to the student. On every batch {@link #score}:
 * <ol>
 *   <li><b>Router step.</b> The student is run without gradients; the teacher is run under its
 *       own gradient collector, in which only the router weights require gradients. Loss =
 *       token-mean KL(p_T ‖ q_S) over the loss mask, with the student detached, plus
 *       {@code balance-coef} · Σ_layers CV²(importance), importance_e being expert e's summed
 *       router probability over the batch's real tokens (the reference's balance loss; its
 *       load term is constant when every expert is selected). One AdamW step
 *       ({@code router-lr}, {@code router-weight-decay}, {@code router-clip-norm}) on the router
 *       weights only: experts, attention, embeddings and norms stay bit for bit the same.</li>
 *   <li><b>Student step.</b> The updated teacher's logits under the same dense routing are
 *       returned; the experiment's loss (the reference: {@code kd.reverse-kl}) trains the
 *       student with {@code train.lr}.</li>
 * </ol>
 * Router weights, the optimizer's moments and the router-usage histograms are written with
 * every checkpoint ({@link #saveState}) and restored on resume. Router usage (top-k decisions per
 * expert and layer under the teacher's native routing, on the first batch it saw) is logged as a
 * {@code moe.router-usage} event before the first router step and at every checkpoint, and
 * written to {@code router-usage.json} in the checkpoint's {@code teacher/} folder.
 *
 * <pre>
 * teacher { key = moe.sar, params { model-dir = ..., router-lr = 1e-4 } }
 * train { lr = 1e-4, loss = [ { key = kd.reverse-kl } ] }
 * </pre>
 */
final class SarTeacher extends ModelTeacher {

    /** Registry key. */
    static final String KEY = "moe.sar";
    private static final Gson GSON = new GsonBuilder().setPrettyPrinting().disableHtmlEscaping().create();

    private final RunResources run;
    private final MoeLayout layout;
    private final Map<String, NDArray> router = new LinkedHashMap<>();
    private final AdamW optimizer;
    private final double lr;
    private final double clipNorm;
    private final double balanceCoef;
    private final DenseRouting dense = new DenseRouting();
    private LanguageModel student;
    private NDArray probeIds;
    private NDArray probeMask;
    private long[][] usageBefore;
    private double lastRouterLoss = Double.NaN;

    SarTeacher(RunResources run, LanguageModel model, double lr, double weightDecay, double clipNorm, double balanceCoef,
               String identity) {
        super(model, identity);
        this.run = run;
        this.layout = MoeLayout.of(model);
        this.lr = lr;
        this.clipNorm = clipNorm;
        this.balanceCoef = balanceCoef;
        model.parameters().values().forEach(p -> p.setRequiresGradient(false));
        for (String name : layout.routerNames()) {
            NDArray p = model.parameters().get(name);
            p.setRequiresGradient(true);
            router.put(name, p);
        }
        this.optimizer = new AdamW(router, 0.9f, 0.999f, 1e-8f, (float) weightDecay, run.manager());
    }

    /** The router weights this teacher trains, by name. */
    Map<String, NDArray> routerParameters() {
        return router;
    }

    /** The router loss of the last step (KL plus balance term). */
    double lastRouterLoss() {
        return lastRouterLoss;
    }

    @Override
    public void attachStudent(LanguageModel s) {
        this.student = s;
    }

    @Override
    public TeacherOutput score(TokenBatch batch, boolean hiddenStates, NDManager manager) {
        if (student == null) {
            throw new IllegalStateException(KEY + " needs the student: the trainer must call attachStudent first");
        }
        if (probeIds == null) {
            probeIds = batch.inputIds().duplicate();
            probeIds.attach(run.manager());
            probeMask = batch.attentionMask().duplicate();
            probeMask.attach(run.manager());
            usageBefore = usage();
            logUsage("before", usageBefore);
        }
        routerStep(batch, manager);
        return forward(batch, hiddenStates, manager, dense);
    }

    /** One AdamW step on the router weights toward the student (KL(p_T ‖ q_S) + balance). */
    void routerStep(TokenBatch batch, NDManager manager) {
        try (NDManager scratch = manager.newSubManager()) {
            NDArray studentLogits = student.forward(batch.inputIds(),
                    ForwardOptions.inference().withMask(batch.attentionMask())).logits().stopGradient();
            studentLogits.attach(scratch);
            NDArray logQ = studentLogits.logSoftmax(-1);
            long vocab = logQ.getShape().get(2);
            NDArray lossMask = batch.lossMask().toType(ai.djl.ndarray.types.DataType.FLOAT32, false);
            float tokens = Math.max(1f, lossMask.sum().getFloat());
            NDArray tokenMask = batch.attentionMask().toType(ai.djl.ndarray.types.DataType.FLOAT32, false)
                    .reshape(-1, 1);
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                ModelOutput out = model.forward(batch.inputIds(), ForwardOptions.inference()
                        .withMask(batch.attentionMask()).withRouting(dense).withRouterLogits());
                NDArray teacherLogits = out.logits();
                long teacherVocab = teacherLogits.getShape().get(2);
                if (teacherVocab < vocab) {
                    throw new IllegalArgumentException(KEY + ": the teacher's vocabulary (" + teacherVocab
                            + ") is smaller than the student's (" + vocab + ")");
                }
                if (teacherVocab > vocab) {
                    teacherLogits = teacherLogits.get(":, :, :" + vocab);
                }
                NDArray logP = teacherLogits.logSoftmax(-1);
                NDArray kl = logP.exp().mul(logP.sub(logQ)).sum(new int[] {-1});
                NDArray loss = kl.mul(lossMask).sum().div(Scalars.of(kl, tokens));
                if (balanceCoef > 0) {
                    NDArray balance = null;
                    for (NDArray logits : out.routerLogits()) {
                        NDArray importance = logits.softmax(-1).mul(tokenMask).sum(new int[] {0});
                        NDArray mean = importance.mean();
                        NDArray centred = importance.sub(mean);
                        long e = importance.getShape().get(0);
                        NDArray var = centred.mul(centred).sum().div(Scalars.of(importance, Math.max(1, e - 1)));
                        NDArray cv2 = var.div(mean.mul(mean).add(Scalars.of(mean, 1e-10)));
                        balance = balance == null ? cv2 : balance.add(cv2);
                    }
                    loss = loss.add(balance.mul(Scalars.of(balance, balanceCoef)));
                }
                lastRouterLoss = loss.getFloat();
                gc.backward(loss);
            }
            optimizer.stepClipped(lr, clipNorm);
        }
    }

    /** Top-k decisions per expert and sparse layer on the probe batch under the native routing. */
    long[][] usage() {
        try (NDManager scratch = run.manager().newSubManager()) {
            NDArray ids = probeIds.duplicate();
            ids.attach(scratch);
            NDArray mask = probeMask.duplicate();
            mask.attach(scratch);
            return RouterStats.count(model, layout, ids, mask);
        }
    }

    private void logUsage(String when, long[][] counts) {
        run.events().event("moe.router-usage", Map.of("teacher", identity(), "when", when,
                "router-steps", optimizer.steps(), "counts", RouterStats.asLists(counts)));
    }

    @Override
    public void saveState(Path dir) throws IOException {
        Files.createDirectories(dir);
        try (OutputStream out = Files.newOutputStream(dir.resolve("router.bin"))) {
            NDList list = new NDList();
            router.forEach((name, p) -> {
                p.setName(name);
                list.add(p);
            });
            list.encode(out);
            optimizer.save(out);
        }
        Map<String, Object> report = new LinkedHashMap<>();
        report.put("teacher", identity());
        report.put("router-steps", optimizer.steps());
        report.put("last-router-loss", lastRouterLoss);
        if (usageBefore != null) {
            long[][] after = usage();
            report.put("before", RouterStats.asLists(usageBefore));
            report.put("after", RouterStats.asLists(after));
            logUsage("after", after);
        }
        Files.writeString(dir.resolve("router-usage.json"), GSON.toJson(report));
        if (probeIds != null) {
            try (OutputStream out = Files.newOutputStream(dir.resolve("probe.bin"))) {
                probeIds.setName("ids");
                probeMask.setName("mask");
                new NDList(probeIds, probeMask).encode(out);
            }
        }
    }

    @Override
    public void restoreState(Path dir) throws IOException {
        Path file = dir.resolve("router.bin");
        if (!Files.exists(file)) {
            throw new IOException(dir + ": the checkpoint has no " + KEY + " router state (router.bin)");
        }
        try (InputStream in = new java.io.BufferedInputStream(Files.newInputStream(file));
             NDManager scratch = run.manager().newSubManager()) {
            NDList saved = NDList.decode(scratch, in);
            for (NDArray a : saved) {
                NDArray target = router.get(a.getName());
                if (target == null || !target.getShape().equals(a.getShape())) {
                    throw new IOException(file + ": router weight " + a.getName() + " does not match the teacher");
                }
                target.set(a.toByteBuffer());
            }
            optimizer.load(in);
        }
        Path probe = dir.resolve("probe.bin");
        Path usageFile = dir.resolve("router-usage.json");
        if (Files.exists(probe) && Files.exists(usageFile)) {
            try (InputStream in = Files.newInputStream(probe)) {
                NDList p = NDList.decode(run.manager(), in);
                probeIds = p.get(0);
                probeMask = p.get(1);
            }
            var json = com.google.gson.JsonParser.parseString(Files.readString(usageFile)).getAsJsonObject();
            if (json.has("before")) {
                var rows = json.getAsJsonArray("before");
                usageBefore = new long[rows.size()][];
                for (int l = 0; l < rows.size(); l++) {
                    var row = rows.get(l).getAsJsonArray();
                    usageBefore[l] = new long[row.size()];
                    for (int e = 0; e < row.size(); e++) {
                        usageBefore[l][e] = row.get(e).getAsLong();
                    }
                }
            }
        }
    }

    /** Opens {@link SarTeacher} from {@code model-dir} and the router optimizer's settings. */
    static final class Factory implements TeacherFactory {
        @Override
        public String description() {
            return "MoE teacher with all experts active whose router is trained toward the student (Student-Aware Router)";
        }

        @Override
        public Teacher open(TeacherContext context, Config params) {
            Params p = Params.of(params, context.paramsPath());
            double lr = p.positive("router-lr");
            double wd = p.nonNegative("router-weight-decay");
            double clip = p.nonNegative("router-clip-norm");
            double balance = p.nonNegative("balance-coef");
            String dir = p.string("model-dir");
            LanguageModel model = MoeTeachers.load(context, dir);
            String id = KEY + ":" + Path.of(dir).toAbsolutePath().normalize() + "?router-lr=" + lr;
            return new SarTeacher(context.resources(), model, lr, wd, clip, balance, id);
        }
    }
}
