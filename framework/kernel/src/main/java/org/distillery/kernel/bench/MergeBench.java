package org.distillery.kernel.bench;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;

import org.distillery.api.Contribution;
import org.distillery.api.data.Datasets;
import org.distillery.api.merge.MergeContext;
import org.distillery.api.merge.MergerFactory;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.ModelConfig;
import org.distillery.api.model.ModelService;
import org.distillery.api.run.RunResources;
import org.distillery.kit.io.AtomicFiles;

/**
 * Peak resident memory of merging N model folders, against the size of one model: the registry's merger
 * (which reads the inputs tensor by tensor) and, in the same process, a naive merge that loads every
 * model, sums them in memory and saves the result. Resident memory is the kernel's {@code VmRSS} /
 * {@code VmHWM} ({@code /proc/self/status}); the high-water mark is reset before each merge by writing 5
 * to {@code /proc/self/clear_refs}, so each figure is that merge's own peak above the resident memory
 * just before it. Both merges must give the same tensors.
 */
public final class MergeBench {

    /**
     * What to measure.
     *
     * @param hidden width of the random Llama-style models
     * @param layers their decoder layers
     * @param vocab their vocabulary
     * @param models how many models are merged
     * @param dir where the models and merges are written (deleted at the end)
     */
    public record Options(int hidden, int layers, int vocab, int models, Path dir) {

        /** Checks the ranges; throws {@link IllegalArgumentException} naming the option. */
        public void check() {
            if (hidden < 8 || hidden % 8 != 0) {
                throw new IllegalArgumentException("--hidden must be a multiple of 8, at least 8 (got " + hidden + ")");
            }
            if (layers < 1 || vocab < 16 || models < 2) {
                throw new IllegalArgumentException("--layers >= 1, --vocab >= 16 and --models >= 2 (got " + layers + ", "
                        + vocab + ", " + models + ")");
            }
        }
    }

    private MergeBench() {
    }

    /** Runs the measurement and prints it. */
    public static void run(PrintStream out, RunResources resources, Contribution<MergerFactory> linear, Options o)
            throws IOException {
        Resident resident = Resident.open();
        ModelService models = resources.models();
        Path root = Files.createDirectories(o.dir()).resolve("bench-merge-" + ProcessHandle.current().pid());
        try {
            Map<String, Object> raw = new LinkedHashMap<>();
            raw.put("model_type", "llama");
            raw.put("vocab_size", o.vocab());
            raw.put("hidden_size", o.hidden());
            raw.put("num_hidden_layers", o.layers());
            raw.put("num_attention_heads", Math.max(1, o.hidden() / 64));
            raw.put("intermediate_size", o.hidden() * 8 / 3 / 8 * 8);
            raw.put("max_position_embeddings", 256);
            Path init = Files.createDirectories(root.resolve("config"));
            AtomicFiles.writeString(init.resolve("config.json"), new com.google.gson.Gson().toJson(raw));
            ModelConfig config = models.readConfig(init);
            List<Path> inputs = new ArrayList<>();
            for (int i = 0; i < o.models(); i++) {
                Path dir = root.resolve("model-" + i);
                try (NDManager m = resources.manager().newSubManager();
                     LanguageModel lm = models.create(config, 100 + i, m)) {
                    models.save(lm, dir, DataType.FLOAT32);
                }
                inputs.add(dir);
            }
            long modelBytes = Files.size(inputs.get(0).resolve("model.safetensors"));
            long largest;
            try (var weights = models.openWeights(inputs.get(0))) {
                largest = weights.tensors().values().stream().mapToLong(t -> t.bytes()).max().orElse(0);
            }
            out.printf(Locale.ROOT, "distill bench merge: %d Llama-style models, hidden %d, %d layers, vocab %d, "
                    + "float32: %.1f MB each (model.safetensors), largest tensor %.1f MB%n", o.models(), o.hidden(),
                    o.layers(), o.vocab(), modelBytes / 1e6, largest / 1e6);
            List<Double> weights = Collections.nCopies(o.models(), 1.0 / o.models());

            long before = resident.settle();
            Path streamed = root.resolve("merged-" + linear.info().key());
            linear.factory().create(ConfigFactory.empty().withValue("weights", ConfigValueFactory.fromIterable(weights))
                    .withFallback(linear.defaults()).resolve()).merge(new MergeContext(resources, noDatasets(), inputs,
                    streamed, "", "models"));
            long streamedPeak = resident.peak() - before;

            before = resident.settle();
            Path naive = root.resolve("merged-in-memory");
            mergeInMemory(resources, inputs, weights, naive);
            long naivePeak = resident.peak() - before;

            double diff = maxAbsDiff(resources, streamed, naive);
            out.printf(Locale.ROOT, "  %-44s peak RSS above before: %8.1f MB = %5.2f x one model (%.2f x its "
                    + "largest tensor)%n", linear.info().key() + " (" + linear.info().bundle() + ", tensor by tensor)",
                    streamedPeak / 1e6, (double) streamedPeak / modelBytes, (double) streamedPeak / largest);
            out.printf(Locale.ROOT, "  %-44s peak RSS above before: %8.1f MB = %5.2f x one model%n",
                    "baseline: load all, sum in memory, save", naivePeak / 1e6, (double) naivePeak / modelBytes);
            out.printf(Locale.ROOT, "  streamed / in-memory peak: %.1f%%; the two merges differ by at most %.2e%n",
                    100.0 * streamedPeak / naivePeak, diff);
        } finally {
            AtomicFiles.deleteTree(root);
        }
    }

    private static Datasets noDatasets() {
        return new Datasets() {
            @Override
            public java.util.Optional<Path> file(Split split) {
                return java.util.Optional.empty();
            }

            @Override
            public Path resolve(String reference, Split split, String configPath) {
                throw new IllegalStateException("the merge benchmark reads no dataset");
            }

            @Override
            public List<org.distillery.api.data.Example> read(String reference, Split split, String configPath) {
                throw new IllegalStateException("the merge benchmark reads no dataset");
            }
        };
    }

    /** Every model loaded at once, the weighted sum accumulated in the first one's arrays, then saved. */
    private static void mergeInMemory(RunResources resources, List<Path> inputs, List<Double> weights, Path out)
            throws IOException {
        ModelService models = resources.models();
        try (NDManager m = resources.manager().newSubManager()) {
            List<LanguageModel> loaded = new ArrayList<>();
            for (Path p : inputs) {
                loaded.add(models.load(p, DataType.FLOAT32, m));
            }
            LanguageModel first = loaded.get(0);
            for (Map.Entry<String, NDArray> e : first.parameters().entrySet()) {
                NDArray sum = e.getValue();
                sum.muli(weights.get(0));
                for (int i = 1; i < loaded.size(); i++) {
                    try (NDArray term = loaded.get(i).parameters().get(e.getKey()).mul(weights.get(i))) {
                        sum.addi(term);
                    }
                }
            }
            models.save(first, out, DataType.FLOAT32);
            loaded.forEach(LanguageModel::close);
        }
    }

    private static double maxAbsDiff(RunResources resources, Path a, Path b) throws IOException {
        double max = 0;
        try (NDManager m = resources.manager().newSubManager(); var x = resources.models().openWeights(a);
             var y = resources.models().openWeights(b)) {
            for (String name : x.tensors().keySet()) {
                try (NDManager t = m.newSubManager()) {
                    max = Math.max(max, x.read(name, t, DataType.FLOAT32).sub(y.read(name, t, DataType.FLOAT32)).abs()
                            .max().getFloat());
                }
            }
        }
        return max;
    }

    /** The process's resident memory from {@code /proc/self/status}, with its high-water mark reset on demand. */
    private static final class Resident {
        private static final Path STATUS = Path.of("/proc/self/status");
        private static final Path CLEAR_REFS = Path.of("/proc/self/clear_refs");

        static Resident open() {
            if (!Files.isReadable(STATUS) || !Files.isWritable(CLEAR_REFS)) {
                throw new IllegalStateException("distill bench merge needs Linux's /proc/self/status and a writable "
                        + "/proc/self/clear_refs to measure peak resident memory");
            }
            return new Resident();
        }

        /** Collects garbage, resets the high-water mark and returns the resident bytes now. */
        long settle() throws IOException {
            for (int i = 0; i < 3; i++) {
                System.gc();
                try {
                    Thread.sleep(50);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            Files.writeString(CLEAR_REFS, "5");
            return field("VmRSS");
        }

        /** The high-water mark since the last {@link #settle()}. */
        long peak() throws IOException {
            return field("VmHWM");
        }

        private static long field(String name) throws IOException {
            for (String line : Files.readAllLines(STATUS)) {
                if (line.startsWith(name + ":")) {
                    return Long.parseLong(line.substring(name.length() + 1).trim().split("\\s+")[0]) * 1024;
                }
            }
            throw new IOException(STATUS + " has no " + name);
        }
    }
}
