package org.distillery.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import org.distillery.api.ContributionKind;
import org.distillery.api.InvalidConfigException;
import org.distillery.api.data.Example;
import org.distillery.api.data.TokenBatch;
import org.distillery.api.model.ForwardOptions;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.sampler.Sampler;
import org.distillery.api.sampler.SamplerFactory;
import org.distillery.api.train.KdStage;
import org.distillery.kit.data.Records;
import org.distillery.models.tokenizer.ByteTokenizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Per-record weights ({@code data.dataset}'s {@code record-weight}, e.g. coreset weights) in the loss. */
class WeightedRecordsTest {

    private static final String[][] RECORDS = {
        {"a", "what is 1 plus 1?", "2", "2.0"},
        {"b", "spell cat backwards.", "tac", "0"},
        {"c", "describe rex.", "rex is a dog", "1"},
        {"d", "what is 10 plus 1?", "11", "0.5"}};

    private static Path data(Path dir, boolean withWeights) throws Exception {
        StringBuilder sb = new StringBuilder();
        for (String[] r : RECORDS) {
            sb.append("{\"id\": \"").append(r[0]).append("\", \"prompt\": \"").append(r[1]).append("\", \"response\": \"")
                    .append(r[2]).append("\", \"meta\": {").append(withWeights ? "\"w\": \"" + r[3] + "\"" : "")
                    .append("}}\n");
        }
        Path f = Files.createDirectories(dir).resolve("train.jsonl");
        Files.writeString(f, sb);
        return f;
    }

    private static TestRun run(Path dir, Path data, Path model, String weightKey) throws Exception {
        TestRun run = new TestRun(Files.createDirectories(dir.resolve("run")), TestRun.experiment("""
                experiment.seed = 3
                data.train-file = "%s"
                teacher.key = ""
                tokenizer.dir = "%s"
                student.model-dir = "%s"
                train {
                  steps = 1
                  batch-size = 4
                  max-length = 32
                  lr = 1e-3
                  loss = [ { key = test.ce } ]
                  sampler { key = data.dataset, params { record-weight = "%s" } }
                }
                """.formatted(data, model, model, weightKey)));
        run.register(ContributionKind.LOSS, "test.ce", new CrossEntropy(), ConfigFactory.empty());
        return run;
    }

    private static void writeModel(TestRun run, Path folder) throws Exception {
        run.writeTinyModel(folder, """
                {"model_type": "gpt2", "vocab_size": 259, "n_embd": 32, "n_layer": 1, "n_head": 2, "n_positions": 64,
                 "bos_token_id": 257, "eos_token_id": 258, "resid_pdrop": 0.0, "embd_pdrop": 0.0, "attn_pdrop": 0.0}
                """, 5);
    }

    @Test
    void eachRecordsRowOfTheLossMaskIsScaledByItsWeight(@TempDir Path dir) throws Exception {
        Path train = data(dir.resolve("data"), true);
        try (TestRun run = new TestRun(Files.createDirectories(dir.resolve("run")), TestRun.experiment(
                "data.train-file = \"" + train + "\"\nteacher.key = \"\"")); NDManager m = run.manager().newSubManager()) {
            Config params = ConfigFactory.parseString("record-weight = w, shuffle = false")
                    .withFallback(run.defaults(ContributionKind.SAMPLER, DatasetSampler.KEY));
            ByteTokenizer tok = new ByteTokenizer();
            Sampler sampler = run.factory(ContributionKind.SAMPLER, DatasetSampler.KEY, SamplerFactory.class)
                    .create(run.samplerContext(tok, null, null, 4, 32), params);
            TokenBatch weighted = sampler.next(m);
            List<Records.Encoded> seqs = new java.util.ArrayList<>();
            for (String[] r : RECORDS) {
                seqs.add(Records.encode(Example.pair(r[0], r[1], r[2], Map.of()), tok, 32));
            }
            float[] plain = Records.batch(seqs, tok.padId(), m).lossMask().toFloatArray();
            float[] got = weighted.lossMask().toFloatArray();
            int len = (int) weighted.lossMask().getShape().get(1);
            for (int row = 0; row < 4; row++) {
                float w = Float.parseFloat(RECORDS[row][3]);
                for (int t = 0; t < len; t++) {
                    assertEquals(plain[row * len + t] * w, got[row * len + t], 0f, "row " + row + " at " + t);
                }
            }
            // a record without a weight is refused, naming the parameter
            Path bad = data(dir.resolve("bad"), false);
            Config badParams = ConfigFactory.parseString("record-weight = w, file = \"" + bad + "\"").withFallback(params);
            InvalidConfigException e = assertThrows(InvalidConfigException.class, () -> run.factory(
                    ContributionKind.SAMPLER, DatasetSampler.KEY, SamplerFactory.class)
                    .create(run.samplerContext(tok, null, null, 4, 32), badParams));
            assertTrue(e.getMessage().contains("record-weight") && e.getMessage().contains("record a"), e.getMessage());
        }
    }

    @Test
    void aStepsLossIsTheWeightedMeanOverTokens(@TempDir Path dir) throws Exception {
        Path train = data(dir.resolve("data"), true);
        Path model = dir.resolve("model");
        try (TestRun run = run(dir, train, model, "w")) {
            writeModel(run, model);
            new KdTrainer().run(run, KdStage.named("distill"));
            double logged = ((Number) run.steps().get(0).get("loss")).doubleValue();
            // by hand with the starting weights: sum_i w_i sum_t -log q(y_t) / sum_i w_i n_i
            double num = 0;
            double den = 0;
            ByteTokenizer tok = new ByteTokenizer();
            try (NDManager m = run.manager().newSubManager();
                 LanguageModel lm = run.models().load(model, DataType.FLOAT32, m)) {
                for (String[] r : RECORDS) {
                    double w = Double.parseDouble(r[3]);
                    Records.Encoded s = Records.encode(Example.pair(r[0], r[1], r[2], Map.of()), tok, 32);
                    int[] ids = s.ids();
                    long[] in = new long[ids.length];
                    for (int i = 0; i < ids.length; i++) {
                        in[i] = ids[i];
                    }
                    float[] logp = lm.forward(m.create(in, new Shape(1, in.length)), ForwardOptions.inference())
                            .logits().logSoftmax(-1).toFloatArray();
                    for (int t = s.promptLength() - 1; t < ids.length - 1; t++) {
                        num -= w * logp[t * 259 + ids[t + 1]];
                        den += w;
                    }
                }
            }
            assertEquals(num / den, logged, 1e-4);
        }
    }

    @Test
    void uniformWeightsTrainExactlyAsNoWeights(@TempDir Path dir) throws Exception {
        Path model = dir.resolve("model");
        Path weighted = data(dir.resolve("w"), true);
        String same = Files.readString(weighted).replaceAll("\"w\": \"[^\"]*\"", "\"w\": \"3\"");
        Files.writeString(weighted, same);
        double withWeights;
        double without;
        try (TestRun run = run(dir.resolve("a"), weighted, model, "w")) {
            writeModel(run, model);
            new KdTrainer().run(run, KdStage.named("distill"));
            withWeights = ((Number) run.steps().get(0).get("loss")).doubleValue();
        }
        try (TestRun run = run(dir.resolve("b"), weighted, model, "")) {
            new KdTrainer().run(run, KdStage.named("distill"));
            without = ((Number) run.steps().get(0).get("loss")).doubleValue();
        }
        assertEquals(without, withWeights, 1e-6);
    }
}
