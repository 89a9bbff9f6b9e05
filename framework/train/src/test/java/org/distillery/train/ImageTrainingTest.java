package org.distillery.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import javax.imageio.ImageIO;

import com.typesafe.config.ConfigFactory;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;

import org.distillery.api.ContributionKind;
import org.distillery.api.InvalidConfigException;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.train.KdStage;
import org.distillery.api.train.StageResult;
import org.distillery.models.HfModelService;
import org.distillery.models.ModelConfigs;
import org.distillery.models.tokenizer.ByteTokenizer;
import org.distillery.models.tokenizer.ChatTemplates;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code train.kd} on image records with a LLaVA student: image and text-only records mixed in
 * batches, validation with images, and a stage that trains only the projector while the tower and
 * the language model stay frozen.
 */
class ImageTrainingTest {

    /** A tiny LLaVA (SigLIP-style tower on 8-pixel images, GPT-2 over bytes, image token 259) with its tokenizer. */
    static Path student(Path dir) throws Exception {
        Map<String, Object> vision = new LinkedHashMap<>(Map.of("model_type", "siglip_vision_model", "hidden_size", 16L,
                "intermediate_size", 32L, "num_hidden_layers", 1L, "num_attention_heads", 2L, "image_size", 8L,
                "patch_size", 4L));
        Map<String, Object> text = new LinkedHashMap<>(Map.of("model_type", "gpt2", "vocab_size", 260L, "n_embd", 32L,
                "n_layer", 1L, "n_head", 2L, "n_positions", 64L, "bos_token_id", 257L, "eos_token_id", 258L));
        Map<String, Object> raw = new LinkedHashMap<>(Map.of("model_type", "llava", "vision_config", vision,
                "text_config", text, "image_token_index", 259L, "vision_feature_layer", -1L,
                "vision_feature_select_strategy", "full"));
        HfModelService svc = new HfModelService();
        try (NDManager m = NDManager.newBaseManager(); LanguageModel lm = svc.create(ModelConfigs.fromMap(raw), 3, m)) {
            svc.save(lm, dir, DataType.FLOAT32);
        }
        new ByteTokenizer(List.of("<pad>", "<bos>", "<eos>", "<image>"), "<pad>", "<bos>", "<eos>",
                ChatTemplates.DEFAULT).save(dir);
        return dir;
    }

    /** Eight image records (two images) and four text records. */
    static Path data(Path dir) throws Exception {
        Files.createDirectories(dir);
        for (int i = 0; i < 2; i++) {
            BufferedImage img = new BufferedImage(8, 8, BufferedImage.TYPE_INT_RGB);
            for (int y = 0; y < 8; y++) {
                for (int x = 0; x < 8; x++) {
                    img.setRGB(x, y, i == 0 ? (x < 4 ? 0xFF0000 : 0) : (y < 4 ? 0x0000FF : 0));
                }
            }
            ImageIO.write(img, "png", dir.resolve("img" + i + ".png").toFile());
        }
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 8; i++) {
            sb.append("{\"image\": \"img").append(i % 2).append(".png\", \"prompt\": \"Where?\", \"response\": \"")
                    .append(i % 2 == 0 ? "left" : "top").append("\"}\n");
        }
        for (int i = 0; i < 4; i++) {
            sb.append("{\"prompt\": \"say ").append(i).append("\", \"response\": \"").append(i).append("\"}\n");
        }
        Path f = dir.resolve("train.jsonl");
        Files.writeString(f, sb);
        return f;
    }

    static String experiment(Path data, Path student, String trainable) {
        return """
                experiment.seed = 3
                data.train-file = "%s"
                data.validation-file = "%s"
                teacher.key = ""
                student.model-dir = "%s"
                train {
                  steps = 6, batch-size = 4, max-length = 48, lr = 1e-2, eval-every = 3, eval-batches = 1
                  trainable = %s
                  loss = [ { key = test.ce, weight = 1.0, params {} } ]
                }
                """.formatted(data, data, student, trainable);
    }

    static Map<String, float[]> weights(Path dir) throws Exception {
        Map<String, float[]> w = new LinkedHashMap<>();
        try (NDManager m = NDManager.newBaseManager();
             LanguageModel lm = new HfModelService().load(dir, DataType.FLOAT32, m)) {
            for (Map.Entry<String, NDArray> e : lm.parameters().entrySet()) {
                w.put(e.getKey(), e.getValue().toFloatArray());
            }
        }
        return w;
    }

    @Test
    void onlyTheProjectorTrainsWhileImageAndTextRecordsMix(@TempDir Path dir) throws Exception {
        Path student = student(dir.resolve("student"));
        Path data = data(dir.resolve("data"));
        try (TestRun run = new TestRun(Files.createDirectories(dir.resolve("run")),
                TestRun.experiment(experiment(data, student, "[model.multi_modal_projector.]")))) {
            run.register(ContributionKind.LOSS, "test.ce", new CrossEntropy(), ConfigFactory.empty());
            StageResult r = new KdTrainer().run(run, KdStage.named("dpt"));
            assertEquals(6, r.stepsDone());
            assertTrue(r.metrics().containsKey("val.loss"), r.metrics().toString());
            assertTrue(run.events.stream().anyMatch(e -> "frozen".equals(e.get("type"))), "the freeze is logged");
            Map<String, float[]> before = weights(student);
            Map<String, float[]> after = weights(run.runDir().resolve("stages/dpt/final"));
            for (String name : before.keySet()) {
                boolean same = java.util.Arrays.equals(before.get(name), after.get(name));
                if (name.startsWith("model.multi_modal_projector.")) {
                    assertTrue(!same, name + " trains");
                } else {
                    assertTrue(same, name + " is frozen");
                }
            }
        }
    }

    @Test
    void aPrefixThatNamesNoParameterIsRejected(@TempDir Path dir) throws Exception {
        Path student = student(dir.resolve("student"));
        Path data = data(dir.resolve("data"));
        try (TestRun run = new TestRun(Files.createDirectories(dir.resolve("run")),
                TestRun.experiment(experiment(data, student, "[model.connector.]")))) {
            run.register(ContributionKind.LOSS, "test.ce", new CrossEntropy(), ConfigFactory.empty());
            InvalidConfigException e = assertThrows(InvalidConfigException.class,
                    () -> new KdTrainer().run(run, KdStage.named("dpt")));
            assertTrue(e.getMessage().startsWith("train.trainable") && e.getMessage().contains("model.connector.")
                    && e.getMessage().contains("model.multi_modal_projector."), e.getMessage());
        }
    }
}
