package org.distillery.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;

import org.distillery.api.model.ForwardOptions;
import org.distillery.api.model.GenerationOptions;
import org.distillery.api.model.GenerationResult;
import org.distillery.api.model.ImageInputException;
import org.distillery.api.model.LanguageModel;
import org.distillery.models.io.SafeTensors;
import org.distillery.models.llava.LlavaLayout;
import org.distillery.models.llava.LlavaModel;
import org.distillery.models.vision.ImageProcessor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.FieldSource;

/**
 * LLaVA folders in the three checkpoint layouts real models use, image-token checks, gradients
 * through a frozen language model, and KV-cache generation with an image prefix.
 */
class LlavaModelTest {

    static final HfModelService SVC = new HfModelService();
    static final List<String> ARCHS = TinyModels.LLAVA;
    static NDManager base;

    @TempDir
    Path dir;

    @BeforeAll
    static void open() {
        base = NDManager.newBaseManager();
    }

    @AfterAll
    static void close() {
        base.close();
    }

    private static long[][] batch(int per) {
        return new long[][] {
            LlavaGoldenTest.withImage(new long[] {1}, per, new long[] {7, 33, 2, 18}),
            LlavaGoldenTest.withImage(new long[] {1, 4}, per, new long[] {29, 51, 10})};
    }

    private static float[] logits(LanguageModel lm, NDManager m) {
        int per = lm.vision().orElseThrow().tokensPerImage();
        NDArray px = LlavaGoldenTest.pixels(m, LlavaGoldenTest.images(2));
        return lm.forward(TestSupport.ids(m, batch(per)), ForwardOptions.inference().withPixelValues(px)).logits()
                .toFloatArray();
    }

    /** Legacy transformers names of a canonical name (GPT-2 text models under {@code transformer.}). */
    static String legacy(String name, boolean gpt2) {
        if (name.startsWith(LlavaLayout.LANGUAGE)) {
            return (gpt2 ? "language_model.transformer." : "language_model.model.")
                    + name.substring(LlavaLayout.LANGUAGE.length());
        }
        if (name.equals(LlavaLayout.HEAD)) {
            return "language_model.lm_head.weight";
        }
        return name.substring("model.".length());
    }

    /** TinyLLaVA / LLaVA-KD names of a canonical name. */
    static String tinyLlava(String name, boolean gpt2) {
        String l = legacy(name, gpt2);
        if (l.startsWith("vision_tower.")) {
            return "vision_tower._vision_tower." + l.substring("vision_tower.".length());
        }
        return l.replace("multi_modal_projector.linear_1.", "connector._connector.0.")
                .replace("multi_modal_projector.linear_2.", "connector._connector.2.");
    }

    @ParameterizedTest
    @FieldSource("ARCHS")
    void savedFolderLoadsInCurrentLegacyAndTinyLlavaLayouts(String arch) throws Exception {
        boolean gpt2 = arch.endsWith("gpt2");
        try (NDManager m = base.newSubManager();
             LanguageModel lm = SVC.create(TinyModels.config(arch), 11, m)) {
            float[] want = logits(lm, m);
            Path current = dir.resolve("current");
            SVC.save(lm, current, DataType.FLOAT32);
            assertTrue(Files.exists(current.resolve(ImageProcessor.FILE)), "preprocessor_config.json written");
            try (SafeTensors.Reader r = SafeTensors.Reader.open(current.resolve(HfModelService.WEIGHTS))) {
                assertTrue(r.entries().containsKey("model.multi_modal_projector.linear_1.weight"));
                assertTrue(r.entries().keySet().stream().anyMatch(n -> n.startsWith("model.language_model.")));
            }
            for (String layout : List.of("current", "legacy", "tinyllava", "sharded")) {
                Path folder = dir.resolve(layout);
                if (layout.equals("sharded")) {
                    SVC.saveSharded(lm, folder, DataType.FLOAT32, 4096);
                } else if (!layout.equals("current")) {
                    Files.createDirectories(folder);
                    for (String f : List.of("config.json", ImageProcessor.FILE)) {
                        Files.copy(current.resolve(f), folder.resolve(f));
                    }
                    Map<String, NDArray> renamed = new LinkedHashMap<>();
                    lm.parameters().forEach((n, a) -> renamed.put(layout.equals("legacy") ? legacy(n, gpt2)
                            : tinyLlava(n, gpt2), a));
                    if (layout.equals("tinyllava") && !gpt2) {
                        // SigLIP's attention-pooling head, which LLaVA never uses, is ignored on load
                        renamed.put("vision_tower._vision_tower.vision_model.head.probe", m.zeros(new Shape(1, 1, 16)));
                    }
                    SafeTensors.write(folder.resolve(HfModelService.WEIGHTS), renamed, DataType.FLOAT32, Map.of());
                }
                try (NDManager lm2m = m.newSubManager(); LanguageModel loaded = SVC.load(folder, DataType.FLOAT32, lm2m)) {
                    assertTrue(loaded instanceof LlavaModel, layout);
                    assertEquals(lm.parameters().keySet(), loaded.parameters().keySet(), layout);
                    assertArrayEquals(want, logits(loaded, lm2m), 1e-6f, arch + " " + layout);
                }
            }
        }
    }

    @Test
    void unknownTensorsAndMissingParametersNameTheFile() throws Exception {
        try (NDManager m = base.newSubManager();
             LanguageModel lm = SVC.create(TinyModels.config("llava-siglip-llama"), 1, m)) {
            SVC.save(lm, dir, DataType.FLOAT32);
            Map<String, NDArray> params = new LinkedHashMap<>(lm.parameters());
            params.put("vision_tower.something_else", m.zeros(new Shape(2)));
            SafeTensors.write(dir.resolve(HfModelService.WEIGHTS), params, DataType.FLOAT32, Map.of());
            var e = assertThrows(java.io.IOException.class, () -> SVC.load(dir, DataType.FLOAT32, m));
            assertTrue(e.getMessage().contains("unexpected tensor") && e.getMessage().contains("vision_tower.something_else"),
                    e.getMessage());
            params.remove("vision_tower.something_else");
            params.remove("model.multi_modal_projector.linear_2.weight");
            SafeTensors.write(dir.resolve(HfModelService.WEIGHTS), params, DataType.FLOAT32, Map.of());
            e = assertThrows(java.io.IOException.class, () -> SVC.load(dir, DataType.FLOAT32, m));
            assertTrue(e.getMessage().contains("model.multi_modal_projector.linear_2.weight"), e.getMessage());
        }
    }

    @Test
    void imageTokensMustMatchTheImages() {
        try (NDManager m = base.newSubManager();
             LanguageModel lm = SVC.create(TinyModels.config("llava-siglip-llama"), 1, m)) {
            int per = lm.vision().orElseThrow().tokensPerImage();
            NDArray one = LlavaGoldenTest.pixels(m, LlavaGoldenTest.images(1));
            NDArray ids = TestSupport.ids(m, batch(per));
            var e = assertThrows(ImageInputException.class,
                    () -> lm.forward(ids, ForwardOptions.inference().withPixelValues(one)));
            assertTrue(e.getMessage().contains("6 image tokens") && e.getMessage().contains("1 image(s) give 3"),
                    e.getMessage());
            e = assertThrows(ImageInputException.class, () -> lm.forward(ids, ForwardOptions.inference()));
            assertTrue(e.getMessage().contains("no images were given"), e.getMessage());
            NDArray wrongSize = m.zeros(new Shape(2, 3, 16, 16));
            var s = assertThrows(IllegalArgumentException.class,
                    () -> lm.forward(ids, ForwardOptions.inference().withPixelValues(wrongSize)));
            assertTrue(s.getMessage().contains("[images, 3, 8, 8]"), s.getMessage());
        }
    }

    @Test
    void textModelsRejectImages() {
        try (NDManager m = base.newSubManager(); LanguageModel lm = SVC.create(TinyModels.config("llama"), 1, m)) {
            NDArray ids = TestSupport.ids(m, new long[][] {{1, 2, 3}});
            var e = assertThrows(IllegalArgumentException.class,
                    () -> lm.forward(ids, ForwardOptions.inference().withPixelValues(m.zeros(new Shape(1, 3, 8, 8)))));
            assertTrue(e.getMessage().contains("no vision tower"), e.getMessage());
        }
    }

    @Test
    void projectorLearnsThroughAFrozenLanguageModel() {
        try (NDManager m = base.newSubManager();
             LanguageModel lm = SVC.create(TinyModels.config("llava-siglip-llama"), 1, m)) {
            String projector = "model.multi_modal_projector.linear_1.weight";
            lm.parameters().get(projector).setRequiresGradient(true);
            int per = lm.vision().orElseThrow().tokensPerImage();
            NDArray px = LlavaGoldenTest.pixels(m, LlavaGoldenTest.images(2));
            try (NDManager step = m.newSubManager();
                 GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                NDArray logits = lm.forward(TestSupport.ids(step, batch(per)),
                        ForwardOptions.train().withPixelValues(px)).logits();
                gc.backward(logits.logSoftmax(-1).get(":, -1, 5").sum().neg());
            }
            float norm = lm.parameters().get(projector).getGradient().abs().sum().getFloat();
            assertTrue(norm > 0, "the projector gets a gradient through the frozen language model");
            lm.parameters().get(projector).setRequiresGradient(false);
        }
    }

    @ParameterizedTest
    @FieldSource("ARCHS")
    void kvCacheGenerationWithAnImagePrefixMatchesUncachedGeneration(String arch) {
        try (NDManager m = base.newSubManager();
             LanguageModel lm = SVC.create(TinyModels.config(arch), 3, m)) {
            int per = lm.vision().orElseThrow().tokensPerImage();
            // left padding: the shorter prompt has its image later in the padded row
            List<int[]> prompts = List.of(toInts(LlavaGoldenTest.withImage(new long[] {1}, per, new long[] {7, 33})),
                    toInts(LlavaGoldenTest.withImage(new long[] {1, 5, 9, 4}, per, new long[] {12})));
            NDArray px = LlavaGoldenTest.pixels(m, LlavaGoldenTest.images(2));
            GenerationOptions cached = new GenerationOptions(12, 0f, 0, 1f, java.util.Set.of(), 0, true);
            GenerationOptions plain = new GenerationOptions(12, 0f, 0, 1f, java.util.Set.of(), 0, false);
            GenerationResult a = SVC.generator().generate(lm, prompts, px, cached, m);
            GenerationResult b = SVC.generator().generate(lm, prompts, px, plain, m);
            for (int i = 0; i < 2; i++) {
                assertArrayEquals(b.tokens().get(i), a.tokens().get(i), arch + " row " + i);
                assertArrayEquals(b.logProbs().get(i), a.logProbs().get(i), 1e-4f, arch + " row " + i);
                for (int t : a.tokens().get(i)) {
                    assertTrue(t != TinyModels.IMAGE_TOKEN, "the image token is never generated");
                }
            }
            // the image matters: other pixels give other log-probabilities
            NDArray other = px.neg();
            GenerationResult c = SVC.generator().generate(lm, prompts, other, cached, m);
            assertTrue(c.logProbs().get(0)[0] != a.logProbs().get(0)[0], "the image changes the first step");
        }
    }

    private static int[] toInts(long[] ids) {
        int[] r = new int[ids.length];
        for (int i = 0; i < ids.length; i++) {
            r[i] = (int) ids[i];
        }
        return r;
    }
}
