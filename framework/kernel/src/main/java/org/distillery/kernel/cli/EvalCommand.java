package org.distillery.kernel.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;

import org.distillery.api.ContributionKind;
import org.distillery.api.InvalidConfigException;
import org.distillery.api.data.Example;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.Tokenizer;
import org.distillery.data.JsonlDataService;
import org.distillery.kernel.config.ExperimentException;
import org.distillery.models.HfModelService;
import org.distillery.tensor.DjlTensorService;
import org.distillery.eval.Decoding;
import org.distillery.eval.EvalModule;
import org.distillery.eval.EvalResources;
import org.distillery.eval.Evaluator;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code distill eval}: evaluates a model folder on a JSONL dataset with the built-in metrics,
 * prints the figures and writes them as JSON. Without {@code --out}, a model inside a run
 * ({@code <run>/stages/<stage>/final} or {@code best}) writes {@code <run>/eval/<stage>.json},
 * where {@code distill compare} finds it; any other model writes {@code eval.json}.
 */
@Command(name = "eval", mixinStandardHelpOptions = true,
        description = "Evaluate a model folder on a JSONL dataset (ROUGE-L, exact match, Distinct-4, LM loss, ECE; "
            + "ExAccErr and log-prob judge score with --teacher; the rubric judge with --metrics judge and an endpoint). "
            + "Responses are sampled at temperature 1 over 5 generation seeds (MiniLLM's protocol) unless --decoding greedy.")
final class EvalCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "<model-dir>", description = "Hugging Face model folder")
    Path dir;

    @Option(names = "--data", required = true, paramLabel = "<file.jsonl>", description = "records to evaluate on")
    Path data;

    @Option(names = "--teacher", paramLabel = "<dir>", description = "teacher model folder (ExAccErr, judge)")
    Path teacher;

    @Option(names = "--tokenizer", paramLabel = "<dir>",
            description = "tokenizer folder (default: the model's, else the teacher's)")
    Path tokenizerDir;

    @Option(names = "--metrics", split = ",", paramLabel = "<key>",
            description = "metric keys, e.g. rouge-l,eval.ece (default: rouge-l, exact-match, distinct-4, lm-loss, "
                + "ece when the data has yes/no records, exaccerr and judge-logprob with --teacher)")
    List<String> metrics = new ArrayList<>();

    @Option(names = "--param", paramLabel = "<key>:<path>=<value>",
            description = "metric parameter (repeatable), e.g. exaccerr:lengths=[8,16] or judge:model-dir=/m")
    List<String> params = new ArrayList<>();

    @Option(names = "--max-new-tokens", description = "tokens generated per response at most (default 64)")
    int maxNewTokens = 64;

    @Option(names = "--decoding", description = "sample (default; MiniLLM's protocol) or greedy")
    String decodingMode = "sample";

    @Option(names = "--temperature", description = "sampling temperature (default 1.0)")
    double temperature = 1.0;

    @Option(names = "--top-k", description = "sample from the k most likely tokens; 0 = off (default)")
    int topK;

    @Option(names = "--top-p", description = "nucleus mass when sampling; 1.0 = off (default)")
    double topP = 1.0;

    @Option(names = "--gen-seeds", split = ",", paramLabel = "<seed>",
            description = "generation seeds; text figures are averaged over them (default 1,2,3,4,5)")
    List<Long> genSeeds = new ArrayList<>(List.of(1L, 2L, 3L, 4L, 5L));

    @Option(names = "--batch-size", description = "prompts generated together (default 32)")
    int batchSize = 32;

    @Option(names = "--limit", description = "evaluate the first N records only (default: all)")
    int limit;

    @Option(names = "--out", paramLabel = "<file>", description = "JSON output (default: see above)")
    Path out;

    @Option(names = "--name", description = "model name recorded in the output (default: the stage or folder name)")
    String name;

    @Option(names = "--device", description = "auto | cpu | gpu | gpu:N (default auto)")
    String device = "auto";

    @Override
    public Integer call() throws Exception {
        ModelCommand.requireModelDir(dir);
        if (teacher != null) {
            ModelCommand.requireModelDir(teacher);
        }
        if (maxNewTokens < 1 || batchSize < 1 || limit < 0) {
            throw new ExperimentException(List.of("--max-new-tokens and --batch-size must be >= 1 and --limit >= 0 "
                    + "(got " + maxNewTokens + ", " + batchSize + ", " + limit + ")"));
        }
        try {
            DjlTensorService.checkSpec(device);
        } catch (IllegalArgumentException e) {
            throw new ExperimentException(List.of("--device: " + e.getMessage()));
        }
        Decoding decoding;
        try {
            decoding = Decoding.of(ConfigFactory.parseMap(Map.of("mode", decodingMode, "temperature", temperature,
                    "top-k", topK, "top-p", topP, "seeds", genSeeds)), "--decoding");
        } catch (InvalidConfigException e) {
            throw ExperimentException.of(e);
        }
        List<Example> examples = readData();
        List<Evaluator.MetricSpec> specs = specs(examples);
        boolean builtIn = specs.stream().allMatch(s -> EvalModule.registry().find(ContributionKind.METRIC, s.key(),
                Object.class).isPresent());
        if (builtIn) {
            try (DjlTensorService tensors = DjlTensorService.start(device)) {
                return evaluate(examples, specs, decoding, tensors, new HfModelService(), EvalModule.registry());
            }
        }
        // a bundle's metric: boot the kernel for its registry
        try (org.distillery.kernel.Kernel kernel = Distill.boot(device)) {
            return evaluate(examples, specs, decoding, kernel.tensors(), kernel.models(), kernel.registry());
        }
    }

    private int evaluate(List<Example> examples, List<Evaluator.MetricSpec> specs, Decoding decoding,
                         org.distillery.api.tensor.TensorService tensors, org.distillery.api.model.ModelService models,
                         org.distillery.api.ContributionRegistry registry) throws Exception {
        for (Evaluator.MetricSpec s : specs) {
            if (registry.find(ContributionKind.METRIC, s.key(), Object.class).isEmpty()) {
                throw new ExperimentException(List.of("--metrics: unknown metric (got \"" + s.key() + "\"; accepted: "
                        + String.join(", ", registry.list(ContributionKind.METRIC).stream().map(i -> i.key()).toList())
                        + ")"));
            }
            try {
                Evaluator.resolve(registry, s);
            } catch (InvalidConfigException e) {
                throw ExperimentException.of(e);
            }
            boolean ownJudge = s.params().hasPath("model-dir") && !s.params().getString("model-dir").isEmpty();
            boolean teacherJudge = s.key().equals("eval.judge-logprob") || (s.key().equals("eval.judge")
                    && s.params().hasPath("backend") && s.params().getString("backend").equals("local"));
            if (teacher == null && (s.key().startsWith("eval.exaccerr") || (teacherJudge && !ownJudge))) {
                throw new ExperimentException(List.of("--metrics: " + s.key() + " needs --teacher <dir>"
                        + (teacherJudge ? " or --param " + s.key().substring(5) + ":model-dir=<dir>" : "")));
            }
        }
        Path target = out != null ? out : defaultOut();
        String modelName = name != null ? name : defaultName();

        Tokenizer tok = models.tokenizer(tokenizerFolder());
        long t0 = System.nanoTime();
        Evaluator.Result result;
        try (EvalResources run = new EvalResources(tensors, models, new JsonlDataService(), 0, registry);
             NDManager m = run.manager().newSubManager();
             LanguageModel model = models.load(dir, DataType.FLOAT32, m);
             LanguageModel t = teacher == null ? null : models.load(teacher, DataType.FLOAT32, m)) {
            System.out.printf(Locale.ROOT, "evaluating %s on %d records of %s (%s)%n", dir, examples.size(), data,
                    tensors.engineDescription());
            result = new Evaluator(run, maxNewTokens, batchSize, decoding).evaluate(model, t, tok, examples, specs);
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        Map<String, Object> info = new LinkedHashMap<>();
        info.put("model", modelName);
        info.put("model-dir", dir.toAbsolutePath().toString());
        info.put("teacher-dir", teacher == null ? null : teacher.toAbsolutePath().toString());
        info.put("data", data.toAbsolutePath().toString());
        info.put("records", examples.size());
        info.put("max-new-tokens", maxNewTokens);
        info.put("metric-keys", specs.stream().map(Evaluator.MetricSpec::key).toList());
        Evaluator.write(target, info, result, examples);
        System.out.print(table(result.figures()));
        if (!result.samples().isEmpty()) {
            System.out.println("responses: " + decoding.describe());
        }
        System.out.printf(Locale.ROOT, "%d records in %.1f s; written to %s%n", examples.size(), seconds, target);
        return ExitCodes.OK;
    }

    private List<Example> readData() {
        if (!Files.isRegularFile(data)) {
            throw new ExperimentException(List.of("--data: no such file (got \"" + data + "\"; accepted: a JSONL file "
                    + "of {prompt, response}, {messages} or {text} records)"));
        }
        List<Example> all;
        try {
            all = new JsonlDataService().readJsonl(data);
        } catch (IOException | IllegalArgumentException e) {
            throw new ExperimentException(List.of("--data: " + e.getMessage()));
        }
        if (all.isEmpty()) {
            throw new ExperimentException(List.of("--data: no records in " + data));
        }
        return limit > 0 && limit < all.size() ? List.copyOf(all.subList(0, limit)) : all;
    }

    /** {@code rouge-l} or {@code eval.rouge-l} → {@code eval.rouge-l}. */
    static String key(String k) {
        String t = k.trim();
        return t.contains(".") ? t : "eval." + t;
    }

    private List<Evaluator.MetricSpec> specs(List<Example> examples) {
        Map<String, Config> p = new LinkedHashMap<>();
        for (String s : params) {
            int colon = s.indexOf(':');
            if (colon <= 0 || !s.substring(colon + 1).contains("=")) {
                throw new ExperimentException(List.of("--param " + s + ": expected <metric>:<path>=<value>, "
                        + "e.g. exaccerr:lengths=[8,16]"));
            }
            String k = key(s.substring(0, colon));
            try {
                p.merge(k, ConfigFactory.parseString(s.substring(colon + 1)), (a, b) -> b.withFallback(a));
            } catch (ConfigException e) {
                throw new ExperimentException(List.of("--param " + s + ": " + e.getMessage()));
            }
        }
        List<String> keys = new ArrayList<>();
        if (metrics.isEmpty()) {
            keys.addAll(List.of("eval.rouge-l", "eval.exact-match", "eval.distinct-4", "eval.lm-loss"));
            if (examples.stream().anyMatch(e -> e.meta() != null && "yesno".equals(e.meta().get("task")))) {
                keys.add("eval.ece");
            }
            if (teacher != null) {
                keys.add("eval.exaccerr");
                keys.add("eval.judge-logprob");
            } else if (p.containsKey("eval.judge-logprob")) {
                keys.add("eval.judge-logprob");
            }
            if (p.containsKey("eval.judge")) {
                keys.add("eval.judge");
            }
        } else {
            for (String k : metrics) {
                if (!k.isBlank() && !keys.contains(key(k))) {
                    keys.add(key(k));
                }
            }
        }
        for (String k : p.keySet()) {
            if (!keys.contains(k)) {
                throw new ExperimentException(List.of("--param " + k + ": metric not selected (selected: "
                        + String.join(", ", keys) + ")"));
            }
        }
        List<Evaluator.MetricSpec> out = new ArrayList<>();
        for (String k : keys) {
            out.add(Evaluator.MetricSpec.of(k, p.getOrDefault(k, ConfigFactory.empty())));
        }
        return out;
    }

    private Path tokenizerFolder() {
        if (tokenizerDir != null) {
            return tokenizerDir;
        }
        for (Path d : teacher == null ? List.of(dir) : List.of(dir, teacher)) {
            if (Files.exists(d.resolve("tokenizer.json")) || Files.exists(d.resolve("tokenizer_config.json"))) {
                return d;
            }
        }
        throw new ExperimentException(List.of("--tokenizer: " + dir + " has no tokenizer.json or tokenizer_config.json"
                + (teacher == null ? "" : ", nor has " + teacher) + "; name a tokenizer folder with --tokenizer"));
    }

    /** The run directory and stage of a model at {@code <run>/stages/<stage>/(final|best)}, if it is one. */
    private Path[] runAndStage() {
        Path abs = dir.toAbsolutePath().normalize();
        Path stage = abs.getParent();
        Path stages = stage == null ? null : stage.getParent();
        Path run = stages == null ? null : stages.getParent();
        String leaf = abs.getFileName() == null ? "" : abs.getFileName().toString();
        if (run != null && stages.getFileName().toString().equals("stages") && (leaf.equals("final") || leaf.equals("best"))
                && Files.isRegularFile(run.resolve("config.conf"))) {
            return new Path[] {run, stage};
        }
        return null;
    }

    private Path defaultOut() {
        Path[] rs = runAndStage();
        return rs != null ? Evaluator.evalFile(rs[0], rs[1].getFileName().toString()) : Path.of("eval.json");
    }

    private String defaultName() {
        Path[] rs = runAndStage();
        if (rs != null) {
            return rs[1].getFileName().toString();
        }
        Path f = dir.toAbsolutePath().normalize().getFileName();
        return f == null ? "model" : f.toString();
    }

    static String table(Map<String, Double> figures) {
        int w = 6;
        for (String k : figures.keySet()) {
            w = Math.max(w, k.length());
        }
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "%-" + w + "s  %s%n", "metric", "value"));
        sb.append("-".repeat(w + 14)).append('\n');
        for (Map.Entry<String, Double> e : figures.entrySet()) {
            double v = e.getValue();
            String s = Double.isNaN(v) ? "n/a" : Math.abs(v) >= 1e5 || (v != 0 && Math.abs(v) < 1e-3)
                    ? String.format(Locale.ROOT, "%.4e", v) : String.format(Locale.ROOT, "%.4f", v);
            sb.append(String.format(Locale.ROOT, "%-" + w + "s  %12s%n", e.getKey(), s));
        }
        return sb.toString();
    }
}
