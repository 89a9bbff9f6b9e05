package org.distillery.spark.jobs;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;

import org.apache.spark.sql.SparkSession;

import org.distillery.api.data.Example;
import org.distillery.api.model.GenerationOptions;
import org.distillery.api.model.GenerationResult;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.Tokenizer;
import org.distillery.data.JsonlDataService;
import org.distillery.models.HfModelService;
import org.distillery.spark.input.Inputs;
import org.distillery.spark.teacher.Seeds;
import org.distillery.tensor.DjlTensorService;
import org.distillery.kit.data.Records;
import org.distillery.teachers.cache.TeacherCacheWriter;
import org.distillery.teachers.cache.TeacherIdentity;
import org.distillery.teachers.cache.ValueType;

/**
 * The test data and the single-process references: 40 records of the suite, the embedded teacher,
 * the single-process cache writer ({@code distill teacher cache}'s code) and a plain generation
 * loop over the models API.
 */
final class Suite {

    static final Path TEACHER = Path.of("../../config/models/teacher").toAbsolutePath().normalize();
    static final Path TRAIN = Path.of("../../config/data/suite/train.jsonl").toAbsolutePath().normalize();
    static final int RECORDS = 40;
    static final int MAX_NEW_TOKENS = 24;
    static final float TEMPERATURE = 0.8f;
    static final long SEED = 7;
    static final TeacherCacheWriter.Options CACHE = new TeacherCacheWriter.Options(8, 96, 4, ValueType.FP16);

    private Suite() {
    }

    /** The first 40 records of the suite's training split. */
    static Path records(Path dir) throws IOException {
        List<String> lines = Files.readAllLines(TRAIN, StandardCharsets.UTF_8).stream().filter(l -> !l.isBlank())
                .limit(RECORDS).toList();
        Path f = dir.resolve("suite-40.jsonl");
        Files.write(f, lines, StandardCharsets.UTF_8);
        return f;
    }

    static JobIo io(Path in, Path out, int partitions) {
        return new JobIo(List.of(in.toString()), Inputs.Format.AUTO, 64L << 20, out.toString(), false, partitions, 0);
    }

    static CacheJob.Options cacheOptions() {
        return new CacheJob.Options(TEACHER.toString(), null, CACHE.k(), CACHE.maxLength(), CACHE.batchSize(),
                CACHE.valueType(), "cpu");
    }

    static GenerateJob.Options generateOptions() {
        return new GenerateJob.Options(TEACHER.toString(), null, "cpu", 1, MAX_NEW_TOKENS, TEMPERATURE, 0, 1f, SEED);
    }

    /** The cache as {@code distill teacher cache} writes it. */
    static Path singleProcessCache(Path data, Path out) throws IOException {
        HfModelService models = new HfModelService();
        Tokenizer tok = models.tokenizer(TEACHER);
        try (DjlTensorService tensors = DjlTensorService.start("cpu");
             NDManager m = tensors.newRunScope("reference");
             LanguageModel model = models.load(TEACHER, DataType.FLOAT32, m)) {
            TeacherCacheWriter.write(model, TeacherIdentity.of(TEACHER), tok, new JsonlDataService().readJsonl(data),
                    data, out, CACHE, m, null);
        }
        return out;
    }

    /** Generation in one process: each record decoded alone with its seed, through the models API. */
    static List<Example> singleProcessGeneration(Path data) throws IOException {
        HfModelService models = new HfModelService();
        Tokenizer tok = models.tokenizer(TEACHER);
        List<Example> out = new ArrayList<>();
        try (DjlTensorService tensors = DjlTensorService.start("cpu");
             NDManager m = tensors.newRunScope("reference");
             LanguageModel model = models.load(TEACHER, DataType.FLOAT32, m)) {
            for (Example e : new JsonlDataService().readJsonl(data)) {
                int[] prompt = Records.promptIds(e, tok);
                GenerationOptions o = new GenerationOptions(MAX_NEW_TOKENS, TEMPERATURE, 0, 1f, Set.of(),
                        Seeds.of(SEED, e.id(), 0), true);
                try (NDManager step = m.newSubManager()) {
                    GenerationResult r = models.generator().generate(model, List.of(prompt), o, step);
                    int[] toks = r.tokens().get(0);
                    int n = 0;
                    while (n < toks.length && toks[n] != tok.eosId()) {
                        n++;
                    }
                    Map<String, String> meta = new LinkedHashMap<>(e.meta());
                    meta.put("teacher", TEACHER.getFileName().toString());
                    out.add(Example.pair(e.id(), e.prompt(), tok.decode(java.util.Arrays.copyOf(toks, n)), meta));
                }
            }
        }
        return out;
    }

    /** Records sorted by id. */
    static List<String> sortedById(List<Example> examples) {
        return examples.stream().sorted(Comparator.comparing(Example::id)).map(JsonlDataService::toJsonLine).toList();
    }

    static SparkSession session(String master) {
        return org.distillery.spark.Sessions.start(master, Map.of(), "distillery tests");
    }

    static void delete(Path dir) throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }
}
