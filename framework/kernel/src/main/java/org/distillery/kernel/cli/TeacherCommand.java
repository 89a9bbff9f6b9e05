package org.distillery.kernel.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;

import org.distillery.api.data.Example;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.Tokenizer;
import org.distillery.data.JsonlDataService;
import org.distillery.kernel.config.ExperimentException;
import org.distillery.models.HfModelService;
import org.distillery.tensor.DjlTensorService;
import org.distillery.teachers.cache.TeacherCacheHeader;
import org.distillery.teachers.cache.TeacherCacheWriter;
import org.distillery.teachers.cache.TeacherIdentity;
import org.distillery.teachers.cache.ValueType;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code distill teacher ...}: teacher tools. */
@Command(name = "teacher", mixinStandardHelpOptions = true,
        description = "Teacher tools: train the embedded teacher, precompute a teacher cache.",
        subcommands = {TeacherCommand.Train.class, TeacherCommand.Cache.class})
final class TeacherCommand implements Callable<Integer> {

    @Override
    public Integer call() {
        new picocli.CommandLine(this).usage(System.out);
        return ExitCodes.OK;
    }

    /** {@code distill teacher cache}. */
    /** {@code distill teacher train}. */
    @Command(name = "train", mixinStandardHelpOptions = true,
            description = "Train a teacher with the recipe in config/experiments/teacher.conf (or another experiment) "
                + "and install its lowest-validation-loss model, with the recipe, into a model folder.")
    static final class Train implements Callable<Integer> {
        @Option(names = "--experiment", description = "the recipe (default: teacher)")
        String experiment = "teacher";

        @Option(names = "--out", description = "model folder to install into (default: config/models/teacher of the "
                + "distribution)")
        java.nio.file.Path out;

        @Option(names = "--set", paramLabel = "path=value", description = "override a recipe value (repeatable)")
        java.util.List<String> sets = new java.util.ArrayList<>();

        @Override
        public Integer call() throws Exception {
            com.typesafe.config.Config c = Distill.load(experiment, sets);
            java.nio.file.Path target = out != null ? out : Home.get().resolve("config/models/teacher");
            try (org.distillery.kernel.Kernel kernel = Distill.boot(Distill.deviceOf(c))) {
                org.distillery.kernel.run.RunManager runs = new org.distillery.kernel.run.RunManager(kernel);
                org.distillery.kernel.run.Run run = runs.create(runs.validate(c));
                int code = Distill.runToEnd(runs, run);
                if (code != ExitCodes.OK) {
                    return code;
                }
                String stage = "distill";
                java.nio.file.Path model = org.distillery.eval.EvalReportTrainer.stageModel(run, stage);
                java.nio.file.Path staging = org.distillery.kit.io.AtomicFiles.staging(target);
                try (var files = java.nio.file.Files.list(model)) {
                    for (java.nio.file.Path f : (Iterable<java.nio.file.Path>) files::iterator) {
                        java.nio.file.Files.copy(f, staging.resolve(f.getFileName()));
                    }
                }
                java.nio.file.Files.writeString(staging.resolve("RECIPE.md"), recipe(c, run.runDir(), model));
                org.distillery.kit.io.AtomicFiles.commit(staging, target);
                System.out.println("teacher installed in " + target + " (from " + model + ")");
            }
            return ExitCodes.OK;
        }

        private String recipe(com.typesafe.config.Config c, java.nio.file.Path runDir, java.nio.file.Path model)
                throws java.io.IOException {
            String results = java.nio.file.Files.readString(runDir.resolve("results.json"));
            return "# Embedded teacher\n\n"
                    + "Built by `distill teacher train --experiment " + experiment
                    + (sets.isEmpty() ? "" : " --set " + String.join(" --set ", sets)) + "` from the recipe "
                    + "`config/experiments/" + experiment + ".conf` (seed " + c.getLong("experiment.seed") + "). "
                    + "The model is the stage's " + model.getFileName() + " checkpoint (lowest validation loss). "
                    + "PyTorch intra-op threads: " + System.getProperty("ai.djl.pytorch.num_threads", "default")
                    + " (the thread count changes the order of floating-point sums, so set it the same to rebuild "
                    + "bit for bit: DISTILL_JAVA_OPTS=-Dai.djl.pytorch.num_threads=N).\n\n"
                    + "Stage results:\n\n```json\n" + results.strip() + "\n```\n";
        }
    }

    @Command(name = "cache", mixinStandardHelpOptions = true,
            description = {"Precompute the teacher's top-k log-probabilities (and the remaining mass) at every position "
                + "of a dataset into a compact binary file that teacher.cached reads.",
                "Tokenisation is training's: use the max-length of the runs that will read the cache."})
    static final class Cache implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "<teacher-dir>", description = "Hugging Face model folder of the teacher")
        Path dir;

        @Option(names = "--data", required = true, paramLabel = "<file.jsonl>",
                description = "dataset: {prompt, response}, {messages} or {text} records")
        Path data;

        @Option(names = "--out", required = true, paramLabel = "<cache.bin>", description = "cache file, replaced atomically")
        Path out;

        @Option(names = "--k", description = "top entries kept per position (default 32)")
        int k = 32;

        @Option(names = "--max-length", description = "tokens per sequence, as the trainer's train.max-length (default 128)")
        int maxLength = 128;

        @Option(names = "--batch-size", description = "sequences per teacher forward (default 8)")
        int batchSize = 8;

        @Option(names = "--dtype", description = "how log-probabilities are stored: auto (default: q8 for a teacher "
                + "vocabulary of at most 1536 ids, else q4), q8 (format 2, 8-bit gaps to the top-1 and Rice-coded ids, "
                + "about 1.7 bytes per entry for a few hundred ids), q4 (format 2 with 4-bit gaps and Rice- or "
                + "exponential-Golomb-coded ids, under 2 bytes per entry where top-k ids cluster on frequent tokens), "
                + "fp16 or fp32 (format 1)")
        String dtype = "auto";

        @Option(names = "--tokenizer-dir", description = "tokenizer folder (default: the teacher's folder)")
        Path tokenizerDir;

        @Option(names = "--device", description = "auto (default), cpu, gpu or gpu:N")
        String device = "auto";

        @Override
        public Integer call() throws Exception {
            ModelCommand.requireModelDir(dir);
            List<String> problems = new ArrayList<>();
            if (k < 1) {
                problems.add("--k: must be at least 1 (got " + k + ")");
            }
            if (maxLength < 2) {
                problems.add("--max-length: must be at least 2 (got " + maxLength + ")");
            }
            if (batchSize < 1) {
                problems.add("--batch-size: must be at least 1 (got " + batchSize + ")");
            }
            if (!ValueType.valid(dtype)) {
                problems.add("--dtype: unknown value type (got \"" + dtype + "\"; accepted: auto, q8, q4, fp16, fp32)");
            }
            if (!Files.isRegularFile(data)) {
                problems.add("--data: no such file (got \"" + data + "\"; accepted: a JSONL file)");
            }
            try {
                DjlTensorService.checkSpec(device);
            } catch (IllegalArgumentException e) {
                problems.add("--device: " + e.getMessage());
            }
            if (!problems.isEmpty()) {
                throw new ExperimentException(problems);
            }
            List<Example> examples;
            try {
                examples = new JsonlDataService().readJsonl(data);
            } catch (IOException e) {
                throw new ExperimentException(List.of("--data: " + e.getMessage()));
            }
            if (examples.isEmpty()) {
                throw new ExperimentException(List.of("--data: no records (got \"" + data + "\")"));
            }
            HfModelService models = new HfModelService();
            Path tokDir = tokenizerDir != null ? tokenizerDir : dir;
            Tokenizer tok;
            try {
                tok = models.tokenizer(tokDir);
            } catch (IOException e) {
                throw new ExperimentException(List.of((tokenizerDir != null ? "--tokenizer-dir: " : "teacher-dir: ")
                        + e.getMessage()));
            }
            TeacherIdentity identity;
            try {
                identity = TeacherIdentity.of(dir);
            } catch (IOException e) {
                throw new ExperimentException(List.of("teacher-dir: " + e.getMessage()));
            }
            try (DjlTensorService tensors = DjlTensorService.start(device);
                 NDManager m = tensors.newRunScope("teacher-cache");
                 LanguageModel model = models.load(dir, DataType.FLOAT32, m)) {
                if (k > model.config().vocabSize()) {
                    throw new ExperimentException(List.of("--k: exceeds the teacher's vocabulary of "
                            + model.config().vocabSize() + " (got " + k + ")"));
                }
                TeacherCacheWriter.Options options = new TeacherCacheWriter.Options(k, maxLength, batchSize,
                        ValueType.parse(dtype, model.config().vocabSize()));
                System.err.printf(Locale.ROOT, "teacher %s on %s, %d records of %s%n", identity, tensors.device(),
                        examples.size(), data);
                int[] lastTenth = {-1};
                TeacherCacheWriter.Summary s;
                try {
                    s = TeacherCacheWriter.write(model, identity, tok, examples, data, out, options, m, (done, total) -> {
                        int tenth = (int) (10L * done / Math.max(1, total));
                        if (tenth != lastTenth[0]) {
                            lastTenth[0] = tenth;
                            System.err.printf(Locale.ROOT, "  %d/%d sequences%n", done, total);
                        }
                    });
                } catch (IllegalArgumentException e) {
                    throw new ExperimentException(List.of("teacher cache: " + e.getMessage()));
                }
                TeacherCacheHeader h = s.header();
                double seconds = s.millis() / 1000.0;
                System.out.printf(Locale.ROOT, "teacher cache written to %s%n", s.file());
                System.out.printf(Locale.ROOT, "  records      %d (%d distinct sequences, %d reach max-length %d)%n",
                        h.examples(), h.records(), h.atMaxLength(), h.maxLength());
                System.out.printf(Locale.ROOT, "  positions    %d (top %d, %s)%n", h.positions(), h.k(), h.encoding());
                System.out.printf(Locale.ROOT, "  size         %,d bytes: %.1f bytes/token in records (%.2f per top-k "
                        + "entry), %.1f bytes/token with index and header%n", h.fileBytes(), h.recordBytesPerToken(),
                        h.bytesPerEntry(), h.bytesPerToken());
                System.out.printf(Locale.ROOT, "  tokenizer    %s%n", h.tokenizerFingerprint());
                System.out.printf(Locale.ROOT, "  time         %.1f s (%.0f tokens/s)%n", seconds,
                        seconds > 0 ? h.positions() / seconds : 0.0);
            }
            return ExitCodes.OK;
        }
    }
}
