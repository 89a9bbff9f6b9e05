package org.distillery.multimodal.internal;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueType;

import org.distillery.api.ContributionRef;
import org.distillery.api.InvalidConfigException;
import org.distillery.api.train.KdStage;
import org.distillery.api.train.LossSpec;
import org.distillery.api.train.MethodFactory;
import org.distillery.api.train.Stage;
import org.distillery.kit.config.Params;
import org.distillery.kit.stage.Stages;

/**
 * {@code llava-kd.recipe}: LLaVA-KD's three-stage training (Cai et al., arXiv 2410.16236; the
 * re-released training scripts, METHODS.md §6 and A6) as stages of the built-in trainers:
 * <ol>
 *   <li>{@code dpt} (distilled pre-training) on caption data, only the projector training:
 *       L = L_reg + α·L_res + β·L_vis + γ·L_rel ({@code kd.sft}, {@code mm.response-kl},
 *       {@code mm.visual-kl}, {@code mm.relation});</li>
 *   <li>{@code sft} on instruction data, projector and language model training, {@code kd.sft} only;</li>
 *   <li>{@code dft} (distilled fine-tuning) on instruction data, projector and language model, the full L;</li>
 *   <li>{@code evaluate}: {@code eval.report} of the teacher and the final student(s).</li>
 * </ol>
 * {@code pt} is plain pre-training (captions, projector, {@code kd.sft} only), for the PT → SFT
 * baseline. The vision tower is frozen throughout. Each stage starts from the previous one's
 * student (the first from the student block, e.g. {@code mm.compose}); the run resumes between
 * stages (finished ones are skipped) and inside them (from the stage's checkpoints).
 *
 * <p>A term whose weight is 0 is left out ({@code gamma = 0}: MDist only). Learning rates default to
 * the reference scripts' (DPT 1e-3, SFT and DFT 2e-5) and every {@code train} key can be set per stage
 * ({@code dpt { steps = 200, lr = 2e-3 }}). {@code arms} trains several students in one run for
 * comparison, each with its own schedule and settings laid over the recipe's; an arm's stages are
 * named {@code <arm>.<stage>}, its last stage (the student in the table) {@code <arm>}.
 * <pre>
 * method {
 *   key = llava-kd.recipe
 *   params {
 *     caption-file = ${DISTILL_HOME}/config/data/vision-suite/captions-train.jsonl
 *     instruction-file = ${DISTILL_HOME}/config/data/vision-suite/qa-train.jsonl
 *     arms = [
 *       { name = sft-only, schedule = [sft] }
 *       { name = pt-sft, schedule = [pt, sft] }
 *       { name = mdist, gamma = 0 }
 *       { name = llava-kd }
 *     ]
 *   }
 * }
 * </pre>
 */
final class LlavaKdMethod implements MethodFactory {

    /** Registry key. */
    static final String KEY = "llava-kd.recipe";

    /** The stages a schedule may name. */
    static final List<String> STAGES = List.of("dpt", "pt", "sft", "dft");

    private static final Set<String> ARM_KEYS = Set.of("name", "schedule", "alpha", "beta", "gamma", "divergence",
            "divergence-params", "relation", "dpt", "pt", "sft", "dft", "trainable");

    @Override
    public String description() {
        return "LLaVA-KD: DPT (projector, CE + MDist + RDist) -> SFT -> DFT (projector + LLM, full loss) -> eval.report";
    }

    @Override
    public List<Stage> stages(Config params) {
        Params p = Params.of(params, "method.params");
        List<? extends Config> arms = params.getConfigList("arms");
        List<Stage> stages = new ArrayList<>();
        List<String> students = new ArrayList<>();
        Set<String> names = new HashSet<>();
        if (arms.isEmpty()) {
            String name = "llava-kd";
            names.add(name);
            students.add(name);
            stages.addAll(arm(name, p, p));
        }
        for (int i = 0; i < arms.size(); i++) {
            String where = p.at("arms") + "[" + i + "]";
            Config own = ConfigFactory.parseMap(arms.get(i).root().unwrapped(), where);
            Params a = Params.of(own, where);
            for (String k : own.root().keySet()) {
                if (!ARM_KEYS.contains(k)) {
                    throw new InvalidConfigException(a.at(k), "unknown key of an arm", k, String.join(", ",
                            ARM_KEYS.stream().sorted().toList()));
                }
            }
            if (!a.has("name") || !a.string("name").matches("[a-z0-9][a-z0-9-]*")) {
                throw new InvalidConfigException(a.at("name"), "missing or not a lowercase name (letters, digits, -)",
                        a.has("name") ? a.string("name") : null, "e.g. pt-sft");
            }
            String name = a.string("name");
            if (!names.add(name) || name.equals("evaluate") || name.equals("teacher")) {
                throw new InvalidConfigException(a.at("name"), "must be unique and not 'evaluate' or 'teacher'", name,
                        "another name");
            }
            students.add(name);
            stages.addAll(arm(name, a, Params.of(own.withFallback(params), where)));
        }
        stages.add(Stages.evaluate(params.getConfig("evaluate"), students));
        return stages;
    }

    /**
     * The stages of one student.
     *
     * @param own the arm's own block (its stage overrides), or the recipe's for the single student
     * @param eff the arm's block over the recipe's parameters
     */
    private static List<KdStage> arm(String name, Params own, Params eff) {
        List<String> schedule = eff.strings("schedule");
        if (schedule.isEmpty()) {
            throw new InvalidConfigException(eff.at("schedule"), "needs at least one stage", "[]", "e.g. [dpt, sft, dft]");
        }
        Set<String> seen = new HashSet<>();
        for (String s : schedule) {
            if (!STAGES.contains(s) || !seen.add(s)) {
                throw new InvalidConfigException(eff.at("schedule"), "names an unknown or repeated stage", s,
                        String.join(", ", STAGES) + ", each at most once");
            }
        }
        double alpha = eff.nonNegative("alpha");
        double beta = eff.nonNegative("beta");
        double gamma = eff.nonNegative("gamma");
        Map<String, Object> divergence = new LinkedHashMap<>();
        divergence.put("divergence", eff.string("divergence"));
        if (eff.config().hasPath("divergence-params") && !eff.config().getIsNull("divergence-params")) {
            divergence.put("divergence-params", eff.config().getConfig("divergence-params").root().unwrapped());
        }
        Config relation = eff.config().getConfig("relation");
        Params parts = eff.child("parts");
        List<KdStage> out = new ArrayList<>();
        String previous = "";
        for (int i = 0; i < schedule.size(); i++) {
            String stage = schedule.get(i);
            boolean distilled = stage.equals("dpt") || stage.equals("dft");
            boolean captions = stage.equals("dpt") || stage.equals("pt");
            List<LossSpec> loss = new ArrayList<>();
            loss.add(LossSpec.of("kd.sft"));
            if (distilled) {
                Config div = ConfigFactory.parseMap(divergence);
                if (alpha > 0) {
                    loss.add(new LossSpec(ResponseKlLoss.KEY, alpha, div));
                }
                if (beta > 0) {
                    loss.add(new LossSpec(VisualKlLoss.KEY, beta, div));
                }
                if (gamma > 0) {
                    loss.add(new LossSpec(RelationLoss.KEY, gamma, relation));
                }
            }
            String file = eff.string(captions ? "caption-file" : "instruction-file");
            List<String> trainable = new ArrayList<>();
            for (String part : eff.child("trainable").strings(stage)) {
                if (!parts.has(part)) {
                    throw new InvalidConfigException(eff.child("trainable").at(stage), "names an unknown part", part,
                            String.join(", ", parts.config().root().keySet()));
                }
                trainable.addAll(parts.strings(part));
            }
            String stageName = i == schedule.size() - 1 ? name : name + "." + stage;
            KdStage k = KdStage.named(stageName).withLoss(loss)
                    .withSampler(new ContributionRef("data.dataset", ConfigFactory.parseMap(Map.of("file", file))))
                    .withInitFrom(previous)
                    .withTrainable(trainable)
                    .withTrain(ConfigFactory.parseMap(Map.of("lr", stage.equals("dpt") || stage.equals("pt") ? 1e-3 : 2e-5)))
                    .at(own.path());
            out.add(overrides(eff, stage, k));
            previous = stageName;
        }
        return out;
    }

    /** {@code base} with a stage's overrides of its train block (an object, or null for none). */
    private static KdStage overrides(Params p, String stage, KdStage base) {
        Config params = p.config();
        if (!params.hasPathOrNull(stage) || params.getIsNull(stage)) {
            return base;
        }
        if (params.getValue(stage).valueType() != ConfigValueType.OBJECT) {
            throw new InvalidConfigException(p.at(stage), "must be an object of train settings",
                    params.getValue(stage).render(), "e.g. { steps = 200, lr = 1e-3 }");
        }
        // a copy: an object merged over the null default ignores any further fallback (Typesafe Config's rule)
        Config own = ConfigFactory.parseMap(params.getConfig(stage).root().unwrapped(), p.at(stage));
        return Stages.overTrain(base, Params.of(own, p.at(stage)));
    }
}
