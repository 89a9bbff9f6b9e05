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
}
