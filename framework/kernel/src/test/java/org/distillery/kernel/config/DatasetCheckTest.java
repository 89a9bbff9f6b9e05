package org.distillery.kernel.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import com.typesafe.config.ConfigFactory;

import org.distillery.api.train.Stage;
import org.distillery.api.train.StageSpec;
import org.distillery.data.JsonlDataService;
import org.distillery.models.HfModelService;
import org.distillery.testkit.TestRunContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The datasets an experiment names are read before its run directory exists: the data block's
 * files and the {@code file} of a stage with its own parameters, each problem naming the config
 * path, the file and the line; stage references and files that do not exist are left alone.
 */
class DatasetCheckTest {

    @Test
    void aStagesOwnFileIsReadAndItsBadRecordNamed(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("ok.png"), "not read: only the header is checked");
        Path good = dir.resolve("good.jsonl");
        Files.writeString(good, "{\"prompt\": \"a\", \"response\": \"b\"}\n");
        Path bad = dir.resolve("captions.jsonl");
        Files.writeString(bad, "{\"prompt\": \"a\", \"response\": \"b\"}\n"
                + "{\"image\": \"gone.png\", \"prompt\": \"Describe.\", \"response\": \"a circle\"}\n");
        List<Stage> stages = List.of(
                new StageSpec("pretrain", "some.trainer", ConfigFactory.parseString("file = \"" + bad + "\"")),
                new StageSpec("later", "some.trainer", ConfigFactory.parseString("file = \"stage:pretrain\"")),
                new StageSpec("absent", "some.trainer", ConfigFactory.parseString("file = \"" + dir.resolve("no.jsonl")
                        + "\"")),
                new StageSpec("plain", "some.trainer", ConfigFactory.parseString("steps = 3")));
        List<String> problems = DatasetCheck.problems(ConfigFactory.parseString("data.train-file = \"" + good + "\""),
                stages, new JsonlDataService());
        assertEquals(1, problems.size(), problems.toString());
        String p = problems.get(0);
        assertTrue(p.startsWith("method.params (stage pretrain).file: ") && p.contains(bad + ":2:")
                && p.contains("gone.png"), p);
    }

    @Test
    void aMaxLengthThatCannotHoldOneImageOfTheTowerFailsBeforeTheRun(@TempDir Path dir) throws Exception {
        Path teacher = Files.createDirectories(dir.resolve("llava"));
        Files.writeString(teacher.resolve("config.json"), TestRunContext.tinyLlava());
        javax.imageio.ImageIO.write(new java.awt.image.BufferedImage(8, 8, java.awt.image.BufferedImage.TYPE_INT_RGB),
                "png", dir.resolve("img.png").toFile());
        Path data = dir.resolve("captions.jsonl");
        Files.writeString(data, "{\"image\": \"img.png\", \"prompt\": \"Describe.\", \"response\": \"black\"}\n");
        String base = "data.train-file = \"" + data + "\"\nteacher.params.model-dir = \"" + teacher + "\"\n";
        HfModelService models = new HfModelService();
        // the tower of 8-pixel images in 4-pixel patches makes 4 tokens per image
        List<String> problems = DatasetCheck.problems(ConfigFactory.parseString(base + "train.max-length = 4"),
                List.of(), new JsonlDataService(), models);
        assertEquals(1, problems.size(), problems.toString());
        assertTrue(problems.get(0).startsWith("train.max-length: 4 tokens cannot hold one image")
                && problems.get(0).contains("4 tokens") && problems.get(0).contains(data.toString()), problems.get(0));
        assertEquals(List.of(), DatasetCheck.problems(ConfigFactory.parseString(base + "train.max-length = 5"),
                List.of(), new JsonlDataService(), models));
        // text-only records: no image to hold
        Files.writeString(data, "{\"prompt\": \"a\", \"response\": \"b\"}\n");
        assertEquals(List.of(), DatasetCheck.problems(ConfigFactory.parseString(base + "train.max-length = 4"),
                List.of(), new JsonlDataService(), models));
    }
}
