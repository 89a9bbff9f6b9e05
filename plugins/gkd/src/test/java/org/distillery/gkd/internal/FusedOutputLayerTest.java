package org.distillery.gkd.internal;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import com.google.inject.Guice;
import com.google.inject.Key;
import com.google.inject.TypeLiteral;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;

import ai.djl.ndarray.NDManager;

import org.distillery.api.data.TokenBatch;
import org.distillery.api.loss.Loss;
import org.distillery.api.loss.LossContext;
import org.distillery.api.loss.LossFactory;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.sampler.SamplerContext;
import org.distillery.api.teacher.Teacher;
import org.distillery.kdcore.internal.KdCoreModule;
import org.distillery.kit.teacher.ModelTeacher;
import org.distillery.models.ModelConfigs;
import org.distillery.models.tokenizer.ByteTokenizer;
import org.distillery.testkit.FusedParity;
import org.distillery.testkit.TestRunContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Golden tests of the fused output layer for GKD's losses on GKD's own batches: the generalised
 * JSD (kd-core's {@code kd.jsd}, GKD's divergence) on batches of {@code gkd.on-policy} (student
 * samples at λ = 1, a mix at λ = 0.5, teacher samples with SeqKD), with a model teacher scored as the
 * trainer scores it (fused logits from {@link ModelTeacher}) or its top-k, gives the same value and
 * gradients of every student parameter as with materialised logits, through real tiny GPT-2 models
 * over the byte tokenizer's 259 ids.
 *
 * <p>Tolerances: values within 1e-5·max(1, |v|); each gradient entry within 1e-4 of the largest
 * entry of its array.
 */
class FusedOutputLayerTest {

    @TempDir
    static Path dir;

    private static TestRun run;
    private static LanguageModel student;
    private static Teacher teacher;
    private static Map<String, LossFactory> losses;
    private static Config reference;

    @BeforeAll
    static void setUp() throws Exception {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 16; i++) {
            sb.append("{\"id\": \"r").append(i).append("\", \"prompt\": \"what is ").append(i)
                    .append(" plus 1?\", \"response\": \"").append(i + 1).append("\"}\n");
        }
        Path train = dir.resolve("train.jsonl");
        Files.writeString(train, sb);
        run = new TestRun(dir, "experiment.seed = 5\ndata.train-file = \"" + train + "\"\n");
        student = tiny(1, 32);
        teacher = new ModelTeacher(tiny(2, 48), "test:teacher") { };
        losses = Guice.createInjector(new KdCoreModule()).getInstance(Key.get(new TypeLiteral<Map<String, LossFactory>>() { }));
        reference = ConfigFactory.parseResources(KdCoreModule.class.getClassLoader(), "reference.conf");
    }

    @AfterAll
    static void tearDown() {
        student.close();
        teacher.close();
        run.close();
    }

    private static LanguageModel tiny(long seed, long width) {
        Map<String, Object> raw = TestRunContext.gpt2Config(259, width, 1, 2, 64);
        raw.put("bos_token_id", 257L);
        raw.put("eos_token_id", 258L);
        return run.models().create(ModelConfigs.fromMap(raw), seed, run.manager());
    }

    private static Loss loss(String key, String params) {
        Config defaults = reference.getConfig("distillery.losses.\"" + key + "\"");
        return losses.get(key).create(new LossContext(run.manager(), 5, null, student.config(),
                teacher.model().orElseThrow().config(), "train.loss[0].params"),
                ConfigFactory.parseString(params).withFallback(defaults));
    }

    @ParameterizedTest(name = "{0} on {1}, {2} teacher")
    @CsvSource(delimiter = ';', value = {
        "kd.jsd|beta = 0.5; lambda = 1; full",
        "kd.jsd|beta = 0.5; lambda = 1; top-k",
        "kd.jsd|beta = 0.9, temperature = 2.0; lambda = 0.5; full",
        "kd.jsd|beta = 0.1; lambda = 0, seq-kd = true; full",
        "kd.seqkd|label-smoothing = 0.1; lambda = 0, seq-kd = true; none"})
    void fusedEqualsUnfusedOnGkdBatches(String lossSpec, String samplerParams, String teacherKind) {
        String[] l = lossSpec.split("\\|", 2);
        Loss divergence = loss(l[0], l.length > 1 ? l[1] : "");
        SamplerContext ctx = run.samplerContext(new ByteTokenizer(), student, teacher, 4, 40);
        Config params = ConfigFactory.parseString(samplerParams + ", max-new-tokens = 8").withFallback(
                ConfigFactory.parseResources(OnPolicySampler.class.getClassLoader(), "reference.conf")
                        .getConfig("distillery.samplers.\"gkd.on-policy\""));
        OnPolicySampler sampler = (OnPolicySampler) new OnPolicySampler.Factory().create(ctx, params);
        FusedParity.TeacherSide side = switch (teacherKind) {
            case "full" -> FusedParity.teacher(teacher);
            case "top-k" -> FusedParity.topKTeacher(teacher.model().orElseThrow(), 8);
            default -> FusedParity.noTeacher();
        };
        try (NDManager m = run.manager().newSubManager()) {
            for (int k = 0; k < 2; k++) {
                TokenBatch batch = sampler.next(m);
                FusedParity.Result unfused = FusedParity.throughModel(divergence, student, batch, side, false, m);
                FusedParity.Result fused = FusedParity.throughModel(divergence, student, batch, side, true, m);
                FusedParity.assertEqual(unfused, fused, 1e-5, 1e-4, lossSpec + " on " + samplerParams + ", batch " + k
                        + " (" + sampler.lastSource() + ")");
            }
        }
    }
}
