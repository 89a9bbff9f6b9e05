package org.distillery.multimodal.internal;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import javax.imageio.ImageIO;

import com.typesafe.config.Config;

import org.distillery.eval.EvalModule;
import org.distillery.kdcore.internal.KdCoreModule;
import org.distillery.models.tokenizer.ByteTokenizer;
import org.distillery.models.tokenizer.ChatTemplates;
import org.distillery.teachers.TeachersModule;
import org.distillery.testkit.TestRunContext;
import org.distillery.train.TrainModule;

/**
 * The shared test run with what the kernel would register (the built-ins, kd-core and this
 * bundle), and tiny LLaVA and text models over the byte tokenizer with {@code <image>} (id 259).
 */
final class TestRun extends TestRunContext {

    /** A tiny LLaVA: a SigLIP-style tower on 8-pixel images (4 patches), a Llama of width 32. */
    static final String TINY_LLAVA = tinyLlava();

    /** A tiny text Llama of width 24 whose vocabulary holds the image token. */
    static final String TINY_LM = """
            {"model_type": "llama", "vocab_size": 260, "hidden_size": 24, "intermediate_size": 40,
             "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 2,
             "max_position_embeddings": 128, "bos_token_id": 257, "eos_token_id": 258, "pad_token_id": 256}""";

    TestRun(Path dir, Config experiment) {
        super(builder().dir(dir).config(experiment));
        registerModules(new TrainModule(), new EvalModule(), new TeachersModule(), new KdCoreModule(),
                new MultimodalModule());
    }

    /** A run without an experiment, for loss tests. */
    static TestRun bare() {
        try {
            return new TestRun(Files.createTempDirectory("multimodal-test"), experiment(""));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Writes a random model of {@code configJson} with the byte tokenizer that knows {@code <image>}. */
    void writeModel(Path folder, String configJson, long seed) throws IOException {
        writeTinyModel(folder, configJson, seed);
        new ByteTokenizer(List.of("<pad>", "<bos>", "<eos>", "<image>"), "<pad>", "<bos>", "<eos>",
                ChatTemplates.DEFAULT).save(folder);
    }

    /**
     * Writes a tiny image suite: {@code n} 8-pixel images, each a red or blue half, with a caption and
     * a question; {@code captions.jsonl}, {@code qa.jsonl} and {@code test.jsonl} (both).
     */
    static Path writeSuite(Path dir, int n) throws IOException {
        Files.createDirectories(dir);
        StringBuilder captions = new StringBuilder();
        StringBuilder qa = new StringBuilder();
        for (int i = 0; i < n; i++) {
            boolean red = i % 2 == 0;
            boolean left = (i / 2) % 2 == 0;
            BufferedImage img = new BufferedImage(8, 8, BufferedImage.TYPE_INT_RGB);
            for (int y = 0; y < 8; y++) {
                for (int x = 0; x < 8; x++) {
                    img.setRGB(x, y, (x < 4) == left ? (red ? 0xDC2828 : 0x3250E6) : 0x141414);
                }
            }
            ImageIO.write(img, "png", dir.resolve("img" + i + ".png").toFile());
            String color = red ? "red" : "blue";
            String side = left ? "left" : "right";
            captions.append("{\"id\": \"c").append(i).append("\", \"image\": \"img").append(i)
                    .append(".png\", \"prompt\": \"Describe the image.\", \"response\": \"a ").append(color)
                    .append(" half on the ").append(side).append("\", \"meta\": {\"task\": \"caption\", \"label\": \"a ")
                    .append(color).append(" half on the ").append(side).append("\"}}\n");
            qa.append("{\"id\": \"q").append(i).append("\", \"image\": \"img").append(i)
                    .append(".png\", \"prompt\": \"What color?\", \"response\": \"").append(color)
                    .append("\", \"meta\": {\"task\": \"color\", \"label\": \"").append(color).append("\"}}\n");
        }
        Files.writeString(dir.resolve("captions.jsonl"), captions);
        Files.writeString(dir.resolve("qa.jsonl"), qa);
        Files.writeString(dir.resolve("test.jsonl"), captions.toString() + qa);
        return dir;
    }
}
