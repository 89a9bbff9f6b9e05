package org.distillery.multimodal.internal;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;

import com.typesafe.config.ConfigFactory;

import ai.djl.ndarray.types.DataType;

import org.distillery.api.ContributionKind;
import org.distillery.api.InvalidConfigException;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.ModelInitializerFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code mm.compose} rejects language models it cannot join to the tower, naming the parameter. */
class ComposeInitializerTest {

    @Test
    void rejectsMissingMultimodalAndTooSmallLanguageModels(@TempDir Path dir) throws Exception {
        try (TestRun run = new TestRun(Files.createDirectories(dir.resolve("run")), TestRun.experiment(""))) {
            Path teacherDir = dir.resolve("teacher");
            run.writeModel(teacherDir, TestRun.TINY_LLAVA, 1);
            Path small = dir.resolve("small");
            run.writeModel(small, TestRun.TINY_LM.replace("\"vocab_size\": 260", "\"vocab_size\": 259"), 2);
            var factory = run.factory(ContributionKind.MODEL_INITIALIZER, ComposeInitializer.KEY,
                    ModelInitializerFactory.class);
            try (LanguageModel teacher = run.models().load(teacherDir, DataType.FLOAT32, run.manager())) {
                for (String[] c : new String[][] {
                    {"", "language-model: is required"},
                    {teacherDir.toString(), "is a multimodal model"},
                    {small.toString(), "does not hold the image token 259"}}) {
                    var init = factory.create(ConfigFactory.parseString("language-model = \"" + c[0] + "\"")
                            .withFallback(run.defaults(ContributionKind.MODEL_INITIALIZER, ComposeInitializer.KEY)));
                    var e = assertThrows(InvalidConfigException.class,
                            () -> init.initialize(run.initializerContext(teacherDir), teacher));
                    assertTrue(e.getMessage().startsWith("student.initializer.params.language-model")
                            && e.getMessage().contains(c[1]), e.getMessage());
                }
            }
        }
    }
}
