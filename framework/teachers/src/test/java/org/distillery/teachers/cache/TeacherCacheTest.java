package org.distillery.teachers.cache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Supplier;
import java.util.zip.CRC32;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import org.distillery.api.ContributionKind;
import org.distillery.api.InvalidConfigException;
import org.distillery.api.data.Example;
import org.distillery.api.data.TokenBatch;
import org.distillery.api.model.ForwardOptions;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.Tokenizer;
import org.distillery.api.teacher.Teacher;
import org.distillery.api.teacher.TeacherContext;
import org.distillery.api.teacher.TeacherOutput;
import org.distillery.data.JsonlDataService;
import org.distillery.kit.data.Records;
import org.distillery.kit.module.ModuleContributions;
import org.distillery.models.HfModelService;
import org.distillery.models.ModelConfigs;
import org.distillery.models.tokenizer.ByteTokenizer;
import org.distillery.models.tokenizer.ChatTemplates;
import org.distillery.teachers.TeachersModule;
import org.distillery.tensor.DjlTensorService;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class TeacherCacheTest {

    private static final int MAX_LENGTH = 40;
    private static final int K = 32;

    @TempDir
    static Path dir;

    private static DjlTensorService tensors;
    private static NDManager manager;
    private static LanguageModel teacher;
    private static Path teacherDir;
    private static Path dataFile;
    private static List<Example> examples;
    private static final Tokenizer TOK = new ByteTokenizer();
    private static Path cache;
    private static TeacherCacheWriter.Summary summary;

    @BeforeAll
    static void setUp() throws Exception {
        tensors = DjlTensorService.start("cpu");
        manager = tensors.newRunScope("cache-test");
        teacherDir = dir.resolve("teacher");
        teacher = saveRandomTeacher(teacherDir, 11);
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 20; i++) {
            sb.append("{\"prompt\": \"what is ").append(i).append(" plus 1?\", \"response\": \"").append(i + 1)
                    .append("\"}\n");
        }
        sb.append("{\"prompt\": \"what is 3 plus 1?\", \"response\": \"4\"}\n"); // a duplicate
        sb.append("{\"text\": \"a long text record that the max-length of forty tokens cuts somewhere in the middle\"}\n");
        sb.append("{\"text\": \"\"}\n"); // bos text eos: 2 tokens, 1 position
        dataFile = dir.resolve("train.jsonl");
        Files.writeString(dataFile, sb);
        examples = new JsonlDataService().readJsonl(dataFile);
        cache = dir.resolve("cache.bin");
        summary = write(teacher, teacherDir, cache, ValueType.FP16, K);
    }

    @AfterAll
    static void tearDown() {
        teacher.close();
        manager.close();
        tensors.close();
    }

    private static LanguageModel saveRandomTeacher(Path out, long seed) throws IOException {
        Map<String, Object> raw = new LinkedHashMap<>();
        raw.put("model_type", "gpt2");
        raw.put("vocab_size", 259);
        raw.put("n_embd", 32);
        raw.put("n_layer", 1);
        raw.put("n_head", 2);
        raw.put("n_positions", 64);
        raw.put("bos_token_id", 257);
        raw.put("eos_token_id", 258);
        HfModelService models = new HfModelService();
        LanguageModel m = models.create(ModelConfigs.fromMap(raw), seed, manager);
        models.save(m, out, DataType.FLOAT32);
        new ByteTokenizer().save(out);
        return m;
    }

    private static TeacherCacheWriter.Summary write(LanguageModel model, Path modelDir, Path out, ValueType vt, int k)
            throws IOException {
        return TeacherCacheWriter.write(model, TeacherIdentity.of(modelDir), TOK, examples, dataFile, out,
                new TeacherCacheWriter.Options(k, MAX_LENGTH, 4, vt), manager, null);
    }

    private static List<int[]> distinctSequences() {
        List<int[]> out = new ArrayList<>();
        for (Example e : examples) {
            int[] ids = Records.encode(e, TOK, MAX_LENGTH).ids();
            if (out.stream().noneMatch(o -> Arrays.equals(o, ids))) {
                out.add(ids);
            }
        }
        return out;
    }

    /** Log-softmax of the teacher over one unpadded sequence, [positions][vocab]. */
    private static float[][] reference(int[] ids) {
        int n = ids.length - 1;
        try (NDManager m = manager.newSubManager()) {
            long[] in = new long[n];
            for (int t = 0; t < n; t++) {
                in[t] = ids[t];
            }
            NDArray lp = teacher.forward(m.create(in, new Shape(1, n)), ForwardOptions.inference()).logits()
                    .logSoftmax(-1);
            float[] flat = lp.toFloatArray();
            int v = flat.length / n;
            float[][] out = new float[n][];
            for (int t = 0; t < n; t++) {
                out[t] = Arrays.copyOfRange(flat, t * v, (t + 1) * v);
            }
            return out;
        }
    }

    private static Integer[] ranked(float[] lp) {
        Integer[] idx = new Integer[lp.length];
        for (int i = 0; i < idx.length; i++) {
            idx[i] = i;
        }
        Arrays.sort(idx, Comparator.comparingDouble((Integer i) -> -lp[i]).thenComparingInt(i -> i));
        return idx;
    }

    /** Scores every distinct sequence through the cached teacher (shuffled, in batches of 3) and checks it. */
    private static void checkAgainstForward(TeacherCacheReader reader, float tolerance) {
        List<int[]> seqs = new ArrayList<>(distinctSequences());
        Collections.shuffle(seqs, new Random(5));
        int k = reader.header().k();
        double worst = 0;
        try (CachedTeacher ct = new CachedTeacher(reader)) {
            for (int s = 0; s < seqs.size(); s += 3) {
                List<int[]> group = seqs.subList(s, Math.min(seqs.size(), s + 3));
                List<Records.Encoded> batch = group.stream().map(ids -> new Records.Encoded(ids, 1)).toList();
                try (NDManager m = manager.newSubManager()) {
                    TokenBatch b = Records.batch(batch, TOK.padId(), m);
                    TeacherOutput out = ct.score(b, false, m);
                    assertNull(out.logits());
                    long len = b.inputIds().getShape().get(1);
                    assertEquals(new Shape(group.size(), len, k), out.topIds().getShape());
                    assertEquals(DataType.INT64, out.topIds().getDataType());
                    assertEquals(new Shape(group.size(), len, k), out.topLogProbs().getShape());
                    assertEquals(new Shape(group.size(), len), out.restLogMass().getShape());
                    long[] ids = out.topIds().toLongArray();
                    float[] lps = out.topLogProbs().toFloatArray();
                    float[] rest = out.restLogMass().toFloatArray();
                    for (int i = 0; i < group.size(); i++) {
                        float[][] ref = reference(group.get(i));
                        for (int t = 0; t < len; t++) {
                            int p = (int) (i * len + t);
                            if (t >= ref.length) { // padding: a finite, harmless distribution
                                assertEquals(0f, lps[p * k]);
                                assertEquals(-CachedTeacher.FLOOR, lps[p * k + 1]);
                                assertEquals(-CachedTeacher.FLOOR, rest[p]);
                                continue;
                            }
                            Integer[] rank = ranked(ref[t]);
                            for (int j = 0; j < k; j++) {
                                int id = (int) ids[p * k + j];
                                float expected = ref[t][rank[j]];
                                // the same id, or a tie within float noise of batched vs unbatched forwards
                                assertTrue(id == rank[j] || Math.abs(ref[t][id] - expected) < 1e-5,
                                        "row " + i + " position " + t + " rank " + j + ": id " + id + " vs " + rank[j]);
                                double err = Math.abs(lps[p * k + j] - expected) / Math.max(1, Math.abs(expected));
                                worst = Math.max(worst, err);
                                assertTrue(err <= tolerance, "log-prob " + lps[p * k + j] + " vs " + expected);
                            }
                            double max = ref[t][rank[k]];
                            double sum = 0;
                            for (int j = k; j < rank.length; j++) {
                                sum += Math.exp(ref[t][rank[j]] - max);
                            }
                            double restRef = max + Math.log(sum);
                            double restErr = Math.abs(rest[p] - restRef) / Math.max(1, Math.abs(restRef));
                            assertTrue(restErr <= tolerance, "rest " + rest[p] + " vs logsumexp " + restRef);
                            // top k plus rest is the whole distribution
                            double total = Math.exp(restRef);
                            for (int j = 0; j < k; j++) {
                                total += Math.exp(ref[t][rank[j]]);
                            }
                            assertEquals(1.0, total, 1e-4);
                        }
                    }
                }
            }
        }
        System.out.printf("worst relative log-prob error (%s): %.2e%n", reader.header().valueType(), worst);
    }

    @Test
    void roundTripMatchesTheTeachersTopKInFp16() throws Exception {
        TeacherCacheHeader h = summary.header();
        assertEquals(examples.size(), h.examples());
        assertEquals(distinctSequences().size(), h.records(), "the duplicate record is stored once");
        assertEquals(1, h.atMaxLength(), "the long text reaches max-length");
        assertEquals(MAX_LENGTH, h.longest());
        try (TeacherCacheReader r = TeacherCacheReader.open(cache)) {
            assertEquals(h, r.header());
            assertEquals(TeacherIdentity.of(teacherDir), r.header().teacher());
            assertEquals(TOK.fingerprint(), r.header().tokenizerFingerprint());
            assertEquals(CacheFormat.sha256(dataFile), r.header().datasetSha256());
            checkAgainstForward(r, 1e-3f);
        }
    }

    @Test
    void roundTripInFp32IsExactToFloatNoise() throws Exception {
        Path f = dir.resolve("cache32.bin");
        write(teacher, teacherDir, f, ValueType.FP32, 5);
        try (TeacherCacheReader r = TeacherCacheReader.open(f)) {
            assertEquals(5, r.header().k());
            checkAgainstForward(r, 2e-5f);
        }
    }

    /**
     * The q8 and q4 files (format 2) hold the teacher's top-k set at every position, largest first, each
     * log-probability within the top-1's fp16 rounding plus half a gap step of the forward's value.
     */
    @ParameterizedTest
    @EnumSource(value = ValueType.class, names = {"Q8", "Q4"})
    void roundTripInFormat2KeepsTheTopKWithinTheGapCodesError(ValueType vt) throws Exception {
        Path f = dir.resolve("cache-" + vt + ".bin");
        TeacherCacheWriter.Summary s = write(teacher, teacherDir, f, vt, K);
        int maxCode = vt == ValueType.Q4 ? 15 : 255;
        float maxGap = RecordCodec.gapOf(maxCode, vt);
        assertEquals(2, s.header().version());
        assertEquals(0, s.header().idBytes());
        double worst = 0;
        double sumErr = 0;
        long entries = 0;
        try (TeacherCacheReader r = TeacherCacheReader.open(f)) {
            assertEquals(s.header(), r.header());
            for (int[] seq : distinctSequences()) {
                float[][] ref = reference(seq);
                int entry = r.find(seq, seq.length);
                int n = r.positions(entry);
                assertEquals(ref.length, n);
                long[] ids = new long[n * K];
                float[] lp = new float[n * K];
                float[] rest = new float[n];
                r.read(entry, n, ids, lp, 0, rest, 0, CachedTeacher.FLOOR);
                for (int t = 0; t < n; t++) {
                    Integer[] rank = ranked(ref[t]);
                    float top = ref[t][rank[0]];
                    java.util.Set<Long> want = new java.util.HashSet<>();
                    for (int j = 0; j < K; j++) {
                        want.add((long) rank[j]);
                    }
                    for (int j = 0; j < K; j++) {
                        long id = ids[t * K + j];
                        // the same set, or a tie at the k-th place within float noise of batched forwards
                        assertTrue(want.contains(id) || Math.abs(ref[t][(int) id] - ref[t][rank[K - 1]]) < 1e-5,
                                "position " + t + ": id " + id + " is not in the teacher's top " + K);
                        if (j > 0) {
                            assertTrue(lp[t * K + j] < lp[t * K + j - 1] || (lp[t * K + j] == lp[t * K + j - 1]
                                    && id > ids[t * K + j - 1]), "largest first, ties by id");
                        }
                        double gap = top - ref[t][(int) id];
                        int code = RecordCodec.gapCode(gap, vt);
                        double step = code == maxCode ? Double.POSITIVE_INFINITY
                                : (RecordCodec.gapOf(code + 1, vt) - RecordCodec.gapOf(Math.max(0, code - 1), vt)) / 2;
                        double err = Math.abs(lp[t * K + j] - ref[t][(int) id]);
                        double bound = Math.abs(top) * 0x1p-11 + (gap >= maxGap ? gap : step) + 1e-5;
                        assertTrue(err <= bound, "position " + t + " id " + id + ": " + lp[t * K + j] + " vs "
                                + ref[t][(int) id] + " (gap " + gap + ", bound " + bound + ")");
                        if (gap < maxGap) {
                            worst = Math.max(worst, err);
                            sumErr += err;
                            entries++;
                        }
                    }
                }
            }
        }
        System.out.printf("%s: worst |error| %.4f nats, mean %.4f over %d entries below the saturation%n", vt, worst,
                sumErr / entries, entries);
        // half the widest step below the saturation: 0.03 nats for q8 (at 31.75), 1.1 for q4 (at 16)
        assertTrue(worst < (vt == ValueType.Q4 ? 1.2 : 0.2), "worst error " + worst);
    }

    @Test
    void q8TakesUnderTwoBytesPerEntryAtK32() throws Exception {
        Path f = dir.resolve("cache-q8-size.bin");
        TeacherCacheHeader h = write(teacher, teacherDir, f, ValueType.Q8, K).header();
        assertEquals(Files.size(f), h.fileBytes());
        System.out.printf("q8, k=32, 259 ids (random teacher: ids spread evenly): %.3f bytes/entry, %.1f record "
                + "bytes/token, %.1f whole-file bytes/token; fp16: %.1f bytes/token%n", h.bytesPerEntry(),
                h.recordBytesPerToken(), h.bytesPerToken(), summary.header().bytesPerToken());
        assertTrue(h.bytesPerEntry() <= 2.0, "bytes per entry " + h.bytesPerEntry());
        assertTrue(h.bytesPerToken() < summary.header().bytesPerToken() / 2, "less than half of fp16's");
    }

    @Test
    void filesOfFormatVersion1WrittenBeforeVersion2StillRead() throws Exception {
        Path old = dir.resolve("format-v1.cache");
        try (var in = TeacherCacheTest.class.getResourceAsStream("format-v1.cache")) {
            Files.copy(in, old);
        }
        List<String> expected;
        try (var in = TeacherCacheTest.class.getResourceAsStream("format-v1.expected.tsv")) {
            expected = new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8).lines().toList();
        }
        try (TeacherCacheReader r = TeacherCacheReader.open(old)) {
            assertEquals(1, r.header().version());
            assertEquals(ValueType.FP16, r.header().valueType());
            int k = r.header().k();
            List<String> got = new ArrayList<>();
            for (int e = 0; e < r.header().records(); e++) {
                int n = r.positions(e);
                long[] ids = new long[n * k];
                float[] lp = new float[n * k];
                float[] rest = new float[n];
                r.read(e, n, ids, lp, 0, rest, 0, CachedTeacher.FLOOR);
                for (int t = 0; t < n; t++) {
                    StringBuilder sb = new StringBuilder().append(e).append('\t').append(t);
                    for (int j = 0; j < k; j++) {
                        sb.append('\t').append(ids[t * k + j]).append(':')
                                .append(Float.floatToIntBits(lp[t * k + j]));
                    }
                    got.add(sb.append('\t').append(Float.floatToIntBits(rest[t])).toString());
                }
            }
            assertEquals(expected, got);
        }
    }

    @Test
    void bytesPerTokenForK32() throws Exception {
        TeacherCacheHeader h = summary.header();
        assertEquals(2, h.idBytes(), "259 ids need 2 bytes");
        assertEquals(130, h.positionBytes(), "32 x (2-byte id + fp16 log-prob) + fp16 rest");
        assertEquals(Files.size(cache), h.fileBytes());
        System.out.printf("k=32: %d record bytes per token, %.1f whole-file bytes per token over %d positions "
                + "(%d sequences, %d bytes)%n", h.positionBytes(), h.bytesPerToken(), h.positions(), h.records(),
                h.fileBytes());
        assertTrue(h.bytesPerToken() < 160, "index and header add little: " + h.bytesPerToken());
        assertEquals(98, CacheFormat.stride(32, CacheFormat.idBytes(256), 2), "a 256-id vocabulary: 1-byte ids");
        assertEquals(194, CacheFormat.stride(32, CacheFormat.idBytes(151_936), 2), "a Qwen-size vocabulary");
        assertTrue(CacheFormat.stride(32, 4, 2) < 300, "below DistillKit's ~300 bytes/token");
    }

    @Test
    void halfPrecisionCodecRoundTripsEveryValueAndRoundsToNearest() {
        for (int h = 0; h < 0x10000; h++) {
            float f = CacheFormat.fromHalf((short) h);
            if (!Float.isNaN(f)) {
                assertEquals((short) h, CacheFormat.toHalf(f), "half " + Integer.toHexString(h));
            }
        }
        assertEquals((short) 0x3c00, CacheFormat.toHalf(1f));
        assertEquals((short) 0xc000, CacheFormat.toHalf(-2f));
        assertEquals((short) 0x7bff, CacheFormat.toHalf(65504f));
        assertEquals((short) 0xfc00, CacheFormat.toHalf(Float.NEGATIVE_INFINITY));
        assertEquals((short) 0xfc00, CacheFormat.toHalf(-1e6f));
        Random r = new Random(3);
        for (int i = 0; i < 100_000; i++) {
            float x = (float) (-30 * r.nextDouble());
            float y = CacheFormat.fromHalf(CacheFormat.toHalf(x));
            assertTrue(Math.abs(x - y) <= Math.abs(x) * 0x1p-11f, x + " -> " + y);
        }
    }

    // ---- the teacher.cached factory ----

    private static ModuleContributions.Entry cachedTeacher() {
        return ModuleContributions.of(new TeachersModule(), ModuleContributions.reference(
                TeachersModule.class.getClassLoader(), "reference.conf")).stream()
                .filter(e -> e.key().equals(CachedTeacher.KEY)).findFirst().orElseThrow();
    }

    private static Config params(String file, String verify) {
        Config defaults = cachedTeacher().defaults();
        return ConfigFactory.parseMap(Map.of("file", file, "verify-teacher-dir", verify)).withFallback(defaults);
    }

    private static CacheTestRun run() {
        return new CacheTestRun(dir.resolve("run"), ConfigFactory.empty(), tensors, manager);
    }

    /** What a stage whose tokenizer comes from {@code tokenizerDir} and whose max-length is {@code maxLength} hands the teacher. */
    private static TeacherContext run(Path tokenizerDir, int maxLength) throws IOException {
        return context(run(), tokenizerDir, maxLength);
    }

    private static TeacherContext context(CacheTestRun run, Path tokenizerDir, int maxLength) throws IOException {
        return new TeacherContext(run, run.models().tokenizer(tokenizerDir), tokenizerDir, maxLength, dir,
                "teacher.params");
    }

    @Test
    void contributionIsDeclaredWithDefaults() {
        ModuleContributions.Entry e = cachedTeacher();
        assertEquals(ContributionKind.TEACHER, e.kind());
        assertEquals("", e.defaults().getString("file"));
        assertEquals("", e.defaults().getString("verify-teacher-dir"));
        assertTrue(e.factory() instanceof CachedTeacher.Factory);
    }

    @Test
    void factoryOpensTheCacheForTheSameTokenizerAndTeacher() throws Exception {
        Path copy = dir.resolve("teacher-copy");
        Files.createDirectories(copy);
        for (String f : new String[] {"config.json", "model.safetensors"}) {
            Files.copy(teacherDir.resolve(f), copy.resolve(f), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
        CacheTestRun run = run();
        try (Teacher t = new CachedTeacher.Factory().open(context(run, teacherDir, MAX_LENGTH),
                params(cache.toString(), copy.toString()))) {
            assertTrue(t.identity().contains(TeacherIdentity.of(teacherDir).weightsSha256()), t.identity());
            assertTrue(t.model().isEmpty());
            assertEquals("teacher-cache", run.events.get(0).get("type"));
        }
    }

    @Test
    void factoryRefusesAnotherTokenizer() throws Exception {
        Path otherTok = Files.createDirectories(dir.resolve("other-tok"));
        new ByteTokenizer(List.of("<pad>", "<bos>", "<eos>", "<sep>"), "<pad>", "<bos>", "<eos>", ChatTemplates.DEFAULT)
                .save(otherTok);
        InvalidConfigException e = assertThrows(InvalidConfigException.class,
                () -> new CachedTeacher.Factory().open(run(otherTok, MAX_LENGTH), params(cache.toString(), "")));
        assertEquals("teacher.params.file", e.path());
        assertTrue(e.getMessage().contains("tokenizer"), e.getMessage());
    }

    @Test
    void factoryRefusesAnotherTeacher() throws Exception {
        Path other = dir.resolve("other-teacher");
        try (LanguageModel m = saveRandomTeacher(other, 12)) {
            InvalidConfigException e = assertThrows(InvalidConfigException.class,
                    () -> new CachedTeacher.Factory().open(run(teacherDir, MAX_LENGTH),
                            params(cache.toString(), other.toString())));
            assertEquals("teacher.params.file", e.path());
            assertTrue(e.getMessage().contains("other-teacher"), e.getMessage());
        }
    }

    @Test
    void factoryRefusesAnotherMaxLengthAndMissingFiles() {
        InvalidConfigException e = assertThrows(InvalidConfigException.class,
                () -> new CachedTeacher.Factory().open(run(teacherDir, 64), params(cache.toString(), "")));
        assertEquals("teacher.params.file", e.path());
        assertTrue(e.getMessage().contains("max-length"), e.getMessage());
        e = assertThrows(InvalidConfigException.class,
                () -> new CachedTeacher.Factory().open(run(teacherDir, MAX_LENGTH), params("", "")));
        assertEquals("teacher.params.file", e.path());
        e = assertThrows(InvalidConfigException.class, () -> new CachedTeacher.Factory()
                .open(run(teacherDir, MAX_LENGTH), params(dir.resolve("nope.bin").toString(), "")));
        assertTrue(e.getMessage().contains("nope.bin"), e.getMessage());
    }

    @Test
    void batchesAsTrainingEncodesThemAreAllFound() throws Exception {
        // every record encoded and batched as the data.dataset sampler does, shuffled, over two epochs
        List<Records.Encoded> seqs = new ArrayList<>();
        for (Example e : new JsonlDataService().readJsonl(dataFile)) {
            seqs.add(Records.encode(e, TOK, MAX_LENGTH));
        }
        List<Records.Encoded> stream = new ArrayList<>();
        for (int epoch = 0; epoch < 3; epoch++) {
            List<Records.Encoded> order = new ArrayList<>(seqs);
            Collections.shuffle(order, new Random(epoch));
            stream.addAll(order);
        }
        Iterator<Records.Encoded> next = stream.iterator();
        Supplier<TokenBatch> sampler = () -> {
            List<Records.Encoded> batch = new ArrayList<>();
            for (int i = 0; i < 5; i++) {
                batch.add(next.next());
            }
            return Records.batch(batch, TOK.padId(), manager);
        };
        try (Teacher t = new CachedTeacher.Factory().open(run(teacherDir, MAX_LENGTH), params(cache.toString(), ""))) {
            for (int step = 0; step < 12; step++) { // more than two epochs
                try (NDManager m = manager.newSubManager()) {
                    TokenBatch b = sampler.get();
                    TeacherOutput out = t.score(b, false, m);
                    assertEquals(b.inputIds().getShape().get(1), out.topIds().getShape().get(1));
                    // where the loss counts, the cached distribution is a real one: ids differ, mass sums to 1
                    float[] mask = b.lossMask().toFloatArray();
                    float[] lp = out.topLogProbs().toFloatArray();
                    float[] rest = out.restLogMass().toFloatArray();
                    for (int p = 0; p < mask.length; p++) {
                        if (mask[p] > 0) {
                            double total = Math.exp(rest[p]);
                            for (int j = 0; j < K; j++) {
                                total += Math.exp(lp[p * K + j]);
                            }
                            assertEquals(1.0, total, 5e-3);
                        }
                    }
                }
            }
        }
    }

    @Test
    void aRowOutsideTheCacheIsAClearError() throws Exception {
        try (TeacherCacheReader r = TeacherCacheReader.open(cache);
             CachedTeacher ct = new CachedTeacher(r);
             NDManager m = manager.newSubManager()) {
            int[] ids = Records.encode(Example.pair("x", "not in the data", "no", Map.of()), TOK, MAX_LENGTH).ids();
            TokenBatch b = Records.batch(List.of(new Records.Encoded(ids, 1)), TOK.padId(), m);
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> ct.score(b, false, m));
            assertTrue(e.getMessage().contains("batch row 0") && e.getMessage().contains("train.jsonl"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> ct.score(b, true, m), "no hidden states");
        }
    }

    // ---- malformed files ----

    private static Path corrupt(String name, java.util.function.Consumer<ByteBuffer> edit) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(cache)).order(ByteOrder.LITTLE_ENDIAN);
        edit.accept(b);
        Path f = dir.resolve(name);
        Files.write(f, b.array());
        return f;
    }

    private static String openError(Path f) {
        IOException e = assertThrows(IOException.class, () -> TeacherCacheReader.open(f).close());
        assertTrue(e.getMessage().contains(f.toString()), "names the file: " + e.getMessage());
        return e.getMessage();
    }

    /** Rewrites the index and header checksums so that deeper checks are reached. */
    private static void reseal(ByteBuffer b) {
        int headerBytes = b.getInt(12);
        int records = b.getInt(32);
        CRC32 idx = new CRC32();
        idx.update(b.array(), headerBytes, records * CacheFormat.INDEX_ENTRY);
        b.putInt(headerBytes - 8, (int) idx.getValue());
        CRC32 head = new CRC32();
        head.update(b.array(), 0, headerBytes - 4);
        b.putInt(headerBytes - 4, (int) head.getValue());
    }

    @Test
    void malformedFilesFailClearly() throws Exception {
        byte[] all = Files.readAllBytes(cache);
        Path truncated = dir.resolve("truncated.bin");
        Files.write(truncated, Arrays.copyOf(all, all.length - 10));
        assertTrue(openError(truncated).contains("truncated"));
        Path tiny = dir.resolve("tiny.bin");
        Files.write(tiny, Arrays.copyOf(all, 40));
        assertTrue(openError(tiny).contains("truncated"));
        Path empty = dir.resolve("empty.bin");
        Files.write(empty, new byte[0]);
        assertTrue(openError(empty).contains("truncated"));
        Path trailing = dir.resolve("trailing.bin");
        Files.write(trailing, Arrays.copyOf(all, all.length + 3));
        assertTrue(openError(trailing).contains("trailing"));

        assertTrue(openError(corrupt("magic.bin", b -> b.put(0, (byte) 'X'))).contains("magic"));
        assertTrue(openError(corrupt("version.bin", b -> b.putInt(8, 99))).contains("version 99"));
        assertTrue(openError(corrupt("v2-fp16.bin", b -> {
            b.putInt(8, 2);
            reseal(b);
        })).contains("not stored in format version 2"));
        assertTrue(openError(corrupt("header-crc.bin", b -> b.putInt(16, 31))).contains("header checksum"));
        int headerBytes = ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN).getInt(12);
        assertTrue(openError(corrupt("index-crc.bin", b -> b.putLong(headerBytes + 8, 7))).contains("index checksum"));
        String offset = openError(corrupt("offset.bin", b -> {
            b.putLong(headerBytes + 8, all.length + 1000L);
            reseal(b);
        }));
        assertTrue(offset.contains("index entry 0") && offset.contains("outside the records"), offset);
        String grid = openError(corrupt("grid.bin", b -> {
            b.putLong(headerBytes + 8, b.getLong(headerBytes + 8) + 1);
            reseal(b);
        }));
        assertTrue(grid.contains("index entry 0"), grid);
        String order = openError(corrupt("order.bin", b -> {
            long first = b.getLong(headerBytes);
            b.putLong(headerBytes, b.getLong(headerBytes + CacheFormat.INDEX_ENTRY));
            b.putLong(headerBytes + CacheFormat.INDEX_ENTRY, first);
            reseal(b);
        }));
        assertTrue(order.contains("out of order"), order);
        String count = openError(corrupt("count.bin", b -> {
            b.putInt(headerBytes + 16, b.getInt(headerBytes + 16) + 1);
            reseal(b);
        }));
        assertTrue(count.contains("positions") || count.contains("outside the records"), count);

        // a damaged record passes the open checks and fails when read
        Path rec = corrupt("record.bin", b -> b.put(all.length - 1, (byte) (b.get(all.length - 1) ^ 0x55)));
        try (TeacherCacheReader r = TeacherCacheReader.open(rec)) {
            IOException e = assertThrows(IOException.class, () -> {
                int k = r.header().k();
                for (int entry = 0; entry < r.header().records(); entry++) {
                    int n = r.positions(entry);
                    r.read(entry, n, new long[n * k], new float[n * k], 0, new float[n], 0, CachedTeacher.FLOOR);
                }
            });
            assertTrue(e.getMessage().contains("checksum") && e.getMessage().contains(rec.toString()), e.getMessage());
        }
        InvalidConfigException e = assertThrows(InvalidConfigException.class, () -> new CachedTeacher.Factory()
                .open(run(teacherDir, MAX_LENGTH), params(truncated.toString(), "")));
        assertEquals("teacher.params.file", e.path());
        assertTrue(e.getMessage().contains("truncated"), e.getMessage());
    }

    @Test
    void writingIsAtomicAndLeavesNoTemporaryFile() throws Exception {
        Path f = dir.resolve("atomic/c.bin");
        write(teacher, teacherDir, f, ValueType.FP16, 4);
        write(teacher, teacherDir, f, ValueType.FP16, 6);
        try (TeacherCacheReader r = TeacherCacheReader.open(f)) {
            assertEquals(6, r.header().k());
        }
        try (var s = Files.list(f.getParent())) {
            assertEquals(List.of(f), s.toList());
        }
    }

    @Test
    void aFullDiskAtAnyWriteLeavesThePreviousCacheAndNoPartialFile() throws Exception {
        java.nio.file.Path target = dir.resolve("disk-full").resolve("cache.bin");
        Files.createDirectories(target.getParent());
        write(teacher, teacherDir, target, ValueType.FP16, K);
        byte[] previous = Files.readAllBytes(target);
        int failures = 0;
        try {
            for (int k = 1; ; k++) {
                int failAt = k;
                java.util.concurrent.atomic.AtomicInteger writes = new java.util.concurrent.atomic.AtomicInteger();
                org.distillery.kit.io.AtomicFiles.writeHook((file, offset, length) -> {
                    if (file.equals(target.toAbsolutePath()) && writes.incrementAndGet() == failAt) {
                        throw new java.io.IOException("No space left on device");
                    }
                });
                try {
                    write(teacher, teacherDir, target, ValueType.FP32, 8);
                    assertTrue(writes.get() < failAt, "write " + failAt + " failed, yet the cache was written");
                    break;
                } catch (java.io.IOException e) {
                    failures++;
                    assertTrue(e.getMessage().contains(target.toAbsolutePath().toString())
                            && e.getMessage().contains("No space left on device"), e.getMessage());
                    assertTrue(java.util.Arrays.equals(previous, Files.readAllBytes(target)), "previous cache intact");
                    try (var files = Files.list(target.getParent())) {
                        assertEquals(List.of("cache.bin"), files.map(f -> f.getFileName().toString()).toList(),
                                "no partial file left");
                    }
                }
            }
        } finally {
            org.distillery.kit.io.AtomicFiles.writeHook(null);
        }
        assertTrue(failures > 5, "each record and the header are writes; failed at " + failures);
        System.out.println("teacher cache: a full disk at each of " + failures + " writes left the previous file intact");
        try (TeacherCacheReader r = TeacherCacheReader.open(target)) {
            assertEquals(8, r.header().k());
        }
    }
}
