package org.distillery.gkd.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.Set;

import com.google.inject.Guice;
import com.google.inject.Key;
import com.google.inject.TypeLiteral;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;

import ai.djl.ndarray.NDManager;

import org.distillery.api.InvalidConfigException;
import org.distillery.api.data.TokenBatch;
import org.distillery.api.model.GenerationOptions;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.Tokenizer;
import org.distillery.api.sampler.Sampler;
import org.distillery.api.sampler.SamplerContext;
import org.distillery.api.sampler.SamplerFactory;
import org.distillery.api.teacher.Teacher;
import org.distillery.api.teacher.TeacherOutput;
import org.distillery.kit.config.Params;
import org.distillery.kit.data.Records;
import org.distillery.models.ModelConfigs;
import org.distillery.models.tokenizer.ByteTokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code gkd.on-policy} on a tiny GPT-2 student and teacher built here: which responses each
 * λ gives, that on-policy responses are exactly the student's own seeded samples, SeqKD, the
 * fraction of student batches, resuming from a position, and the errors for bad parameters.
 */
class OnPolicySamplerTest {

    private static final int RECORDS = 24;
    private static final int BATCH = 4;
    private static final int MAX_LENGTH = 48;
    private static final int MAX_NEW = 8;

    @TempDir
    static Path dir;

    private static TestRun run;
    private static Tokenizer tokenizer;
    private static LanguageModel student;
    private static LanguageModel teacherModel;
    private static Teacher teacher;
    private static List<String> responses;

    @BeforeAll
    static void setUp() throws Exception {
        StringBuilder sb = new StringBuilder();
        responses = new ArrayList<>();
        for (int i = 0; i < RECORDS; i++) {
            sb.append("{\"id\": \"r").append(i).append("\", \"prompt\": \"what is ").append(i)
                    .append(" plus 1?\", \"response\": \"").append(i + 1).append("\"}\n");
            responses.add(String.valueOf(i + 1));
        }
        Path train = dir.resolve("train.jsonl");
        Files.writeString(train, sb);
        Files.writeString(dir.resolve("text.jsonl"), "{\"id\": \"t0\", \"text\": \"just text\"}\n");
        run = new TestRun(dir, "experiment.seed = 11\ndata.train-file = \"" + train + "\"\n");
        tokenizer = new ByteTokenizer();
        student = tiny(1);
        teacherModel = tiny(2);
        teacher = new InProcessTeacher(teacherModel);
    }

    @AfterAll
    static void tearDown() {
        student.close();
        teacherModel.close();
        run.close();
    }

    private static LanguageModel tiny(long seed) {
        Map<String, Object> raw = new LinkedHashMap<>();
        raw.put("model_type", "gpt2");
        raw.put("vocab_size", 259L);
        raw.put("n_embd", 32L);
        raw.put("n_layer", 1L);
        raw.put("n_head", 2L);
        raw.put("n_positions", 64L);
        raw.put("bos_token_id", 257L);
        raw.put("eos_token_id", 258L);
        return run.models().create(ModelConfigs.fromMap(raw), seed, run.manager());
    }

    private static Config params(String hocon) {
        Config ref = ConfigFactory.parseResources(OnPolicySampler.class.getClassLoader(), "reference.conf");
        return ConfigFactory.parseString(hocon).withFallback(ref.getConfig("distillery.samplers.\"gkd.on-policy\""));
    }

    private static OnPolicySampler sampler(String hocon) {
        return sampler(hocon, teacher);
    }

    private static OnPolicySampler sampler(String hocon, Teacher t) {
        SamplerContext ctx = run.samplerContext(tokenizer, student, t, BATCH, MAX_LENGTH);
        return (OnPolicySampler) new OnPolicySampler.Factory().create(ctx, params(hocon));
    }

    /** One row of a batch as Java arrays: prompt ids, counted target ids, and the whole row. */
    private record Row(int[] prompt, int[] response, long[] input, float[] mask) {
    }

    private static List<Row> draw(Sampler s) {
        try (NDManager m = run.manager().newSubManager()) {
            TokenBatch b = s.next(m);
            int rows = (int) b.inputIds().getShape().get(0);
            int len = (int) b.inputIds().getShape().get(1);
            long[] in = b.inputIds().toLongArray();
            long[] tg = b.targets().toLongArray();
            float[] loss = b.lossMask().toFloatArray();
            float[] att = b.attentionMask().toFloatArray();
            int[] prompts = b.promptLengths().toIntArray();
            List<Row> out = new ArrayList<>();
            for (int i = 0; i < rows; i++) {
                int[] prompt = new int[prompts[i]];
                for (int t = 0; t < prompts[i]; t++) {
                    prompt[t] = (int) in[i * len + t];
                }
                List<Integer> resp = new ArrayList<>();
                for (int t = 0; t < len; t++) {
                    if (loss[i * len + t] == 1f) {
                        assertEquals(1f, att[i * len + t], "the loss counts only real tokens");
                        resp.add((int) tg[i * len + t]);
                    }
                }
                out.add(new Row(prompt, resp.stream().mapToInt(Integer::intValue).toArray(),
                        Arrays.copyOfRange(in, i * len, (i + 1) * len), Arrays.copyOfRange(loss, i * len, (i + 1) * len)));
            }
            return out;
        }
    }

    private static int[] datasetResponse(Row r) {
        String prompt = tokenizer.decode(r.prompt());
        int n = Integer.parseInt(prompt.substring("what is ".length(), prompt.indexOf(" plus")));
        return Records.concat(tokenizer.encode(responses.get(n)), new int[] {tokenizer.eosId()});
    }

    /** What {@code model} samples for {@code rows} with the seed the sampler draws for its batch {@code k}. */
    private static List<int[]> ownSamples(LanguageModel model, List<Row> rows, int k, float temperature) {
        Random r = run.random(OnPolicySampler.KEY);
        long seed = 0;
        for (int i = 0; i <= k; i++) {
            r.nextDouble();
            seed = r.nextLong();
        }
        int shortest = rows.stream().mapToInt(x -> x.prompt().length).min().getAsInt();
        GenerationOptions o = new GenerationOptions(Math.min(MAX_NEW, MAX_LENGTH - shortest), temperature, 0, 1f,
                Set.of(tokenizer.eosId()), seed, true);
        try (NDManager m = run.manager().newSubManager()) {
            return run.models().generator().generate(model, rows.stream().map(Row::prompt).toList(), o, m).tokens();
        }
    }

    @Test
    void lambdaZeroGivesTheDatasetResponses() {
        OnPolicySampler s = sampler("lambda = 0, max-new-tokens = " + MAX_NEW);
        for (int k = 0; k < 8; k++) {
            List<Row> rows = draw(s);
            assertEquals(OnPolicySampler.Source.DATASET, s.lastSource());
            assertEquals(BATCH, rows.size());
            for (Row r : rows) {
                assertArrayEquals(datasetResponse(r), r.response(), tokenizer.decode(r.prompt()));
                assertEquals(257, r.prompt()[0], "bos first");
                assertTrue(tokenizer.decode(r.prompt()).endsWith("?\n"), "prompt ends with the separator");
            }
        }
    }

    @Test
    void lambdaOneGivesTheStudentsOwnSeededSamples() {
        OnPolicySampler s = sampler("lambda = 1, shuffle = false, max-new-tokens = " + MAX_NEW);
        boolean anyDiffers = false;
        for (int k = 0; k < 3; k++) {
            List<Row> rows = draw(s);
            assertEquals(OnPolicySampler.Source.STUDENT, s.lastSource());
            List<int[]> expected = ownSamples(student, rows, k, 0.9f);
            for (int i = 0; i < rows.size(); i++) {
                Row r = rows.get(i);
                assertEquals("what is " + (k * BATCH + i) + " plus 1?\n", tokenizer.decode(r.prompt()),
                        "records in file order without shuffle");
                assertArrayEquals(expected.get(i), r.response(), "row " + i + " of batch " + k);
                assertTrue(r.response().length >= 1 && r.response().length <= MAX_NEW);
                anyDiffers |= !Arrays.equals(datasetResponse(r), r.response());
            }
        }
        assertTrue(anyDiffers, "student samples replace the dataset responses");
    }

    @Test
    void studentSamplesFollowTheSamplingTemperature() {
        OnPolicySampler s = sampler("lambda = 1, shuffle = false, temperature = 0, max-new-tokens = " + MAX_NEW);
        List<Row> rows = draw(s);
        List<int[]> greedy = ownSamples(student, rows, 0, 0f);
        for (int i = 0; i < rows.size(); i++) {
            assertArrayEquals(greedy.get(i), rows.get(i).response());
        }
    }

    @Test
    void seqKdUsesTheTeachersSamples() {
        OnPolicySampler s = sampler("lambda = 0, seq-kd = true, shuffle = false, max-new-tokens = " + MAX_NEW);
        for (int k = 0; k < 2; k++) {
            List<Row> rows = draw(s);
            assertEquals(OnPolicySampler.Source.TEACHER, s.lastSource());
            List<int[]> fromTeacher = ownSamples(teacherModel, rows, k, 0.9f);
            List<int[]> fromStudent = ownSamples(student, rows, k, 0.9f);
            boolean differsFromStudent = false;
            for (int i = 0; i < rows.size(); i++) {
                assertArrayEquals(fromTeacher.get(i), rows.get(i).response());
                differsFromStudent |= !Arrays.equals(fromStudent.get(i), rows.get(i).response());
            }
            assertTrue(differsFromStudent, "the teacher, not the student, generated batch " + k);
        }
    }

    @Test
    void fractionOfStudentBatchesIsLambda() {
        OnPolicySampler s = sampler("lambda = 0.3, max-new-tokens = 1");
        int n = 300;
        int student = 0;
        for (int k = 0; k < n; k++) {
            draw(s);
            student += s.lastSource() == OnPolicySampler.Source.STUDENT ? 1 : 0;
            assertFalse(s.lastSource() == OnPolicySampler.Source.TEACHER);
        }
        double fraction = (double) student / n;
        // binomial standard deviation sqrt(0.3 * 0.7 / 300) = 0.026; 3 of them
        assertEquals(0.3, fraction, 0.08, "student batches " + student + " of " + n);
    }

    @Test
    void resumingFromAPositionDrawsTheSameBatches() {
        String p = "lambda = 0.5, seq-kd = true, max-new-tokens = " + MAX_NEW;
        OnPolicySampler straight = sampler(p);
        List<List<Row>> all = new ArrayList<>();
        List<OnPolicySampler.Source> sources = new ArrayList<>();
        String position = null;
        for (int k = 0; k < 14; k++) {
            if (k == 8) {
                position = straight.position();
            }
            all.add(draw(straight));
            sources.add(straight.lastSource());
        }
        assertTrue(sources.contains(OnPolicySampler.Source.STUDENT) && sources.contains(OnPolicySampler.Source.TEACHER),
                "both kinds of batch occur: " + sources);
        assertEquals("1:8:8", position, "8 batches of 4 over 24 records: epoch 1, record 8");
        OnPolicySampler resumed = sampler(p);
        resumed.seek(position);
        assertEquals(position, resumed.position());
        for (int k = 8; k < 14; k++) {
            List<Row> again = draw(resumed);
            assertEquals(sources.get(k), resumed.lastSource(), "batch " + k);
            for (int i = 0; i < BATCH; i++) {
                assertArrayEquals(all.get(k).get(i).input(), again.get(i).input(), "batch " + k + " row " + i);
                assertArrayEquals(all.get(k).get(i).mask(), again.get(i).mask(), "batch " + k + " row " + i);
            }
        }
    }

    @Test
    void generatedResponsesStopAtTheMaximumLength() {
        OnPolicySampler s = sampler("lambda = 1, max-new-tokens = 200, temperature = 1.0");
        for (int k = 0; k < 2; k++) {
            for (Row r : draw(s)) {
                assertTrue(r.prompt().length + r.response().length <= MAX_LENGTH);
            }
        }
    }

    @Test
    void badParametersNameTheirPath() {
        assertEquals("train.sampler.params.lambda",
                assertThrows(InvalidConfigException.class, () -> sampler("lambda = 1.5")).path());
        assertEquals("train.sampler.params.top-p",
                assertThrows(InvalidConfigException.class, () -> sampler("top-p = 0")).path());
        assertEquals("train.sampler.params.temperature",
                assertThrows(InvalidConfigException.class, () -> sampler("temperature = -1")).path());
        assertEquals("train.sampler.params.max-new-tokens",
                assertThrows(InvalidConfigException.class, () -> sampler("max-new-tokens = 0")).path());
        assertEquals("train.sampler.params.seq-kd",
                assertThrows(InvalidConfigException.class, () -> sampler("seq-kd = true", null)).path());
        assertEquals("train.sampler.params.file", assertThrows(InvalidConfigException.class,
                () -> sampler("file = \"" + dir.resolve("text.jsonl") + "\"")).path());
        assertEquals("train.sampler.params.file", assertThrows(InvalidConfigException.class,
                () -> sampler("file = \"" + dir.resolve("missing.jsonl") + "\"")).path());
    }

    @Test
    void moduleBindsTheSamplerWithTrlDefaults() {
        Map<String, SamplerFactory> bound = Guice.createInjector(new GkdModule())
                .getInstance(Key.get(new TypeLiteral<Map<String, SamplerFactory>>() { }));
        assertEquals(Set.of("gkd.on-policy"), bound.keySet());
        assertFalse(bound.get("gkd.on-policy").description().isBlank());
        OnPolicySampler.Settings s = OnPolicySampler.Settings.of(Params.of(params(""), "train.sampler.params"));
        assertEquals(new OnPolicySampler.Settings(0.5, false, 0.9f, 0, 1f, 128, true), s);
    }

    /** An in-process teacher over a model; only {@link #model()} is used by the sampler. */
    private record InProcessTeacher(LanguageModel m) implements Teacher {
        @Override
        public TeacherOutput score(TokenBatch batch, boolean hiddenStates, NDManager manager) {
            throw new UnsupportedOperationException();
        }

        @Override
        public Optional<LanguageModel> model() {
            return Optional.of(m);
        }

        @Override
        public String identity() {
            return "test-teacher";
        }

        @Override
        public void close() {
        }
    }
}
