package org.distillery.kernel.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;

import org.distillery.api.Contribution;
import org.distillery.api.ContributionInfo;
import org.distillery.api.ContributionKind;
import org.distillery.api.merge.MergeContext;
import org.distillery.api.merge.MergeResult;
import org.distillery.api.merge.MergerFactory;
import org.distillery.data.RunDatasets;
import org.distillery.eval.EvalResources;
import org.distillery.kernel.Kernel;
import org.distillery.kernel.config.ExperimentException;
import org.distillery.kit.config.Params;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code distill merge}: merges Hugging Face model folders with a registered merger (contribution kind
 * {@code mergers}, e.g. the surgery bundle's {@code merge.linear}, {@code merge.slerp}, {@code merge.ties},
 * {@code merge.cocktail}) into a new folder, written atomically, and prints the weights used. The merger's
 * parameters come from {@code --weights}, {@code --examples} and {@code --set key=value}, checked against its
 * defaults; invalid input (bad options, models of different architectures or shapes) exits with 2 and
 * writes nothing.
 */
@Command(name = "merge", mixinStandardHelpOptions = true,
        description = {"Merge model folders of one architecture into <out-dir> (config, safetensors, tokenizer files, "
            + "merge.json), tensor by tensor, and print the weights used.",
            "Methods: linear (default; --weights, else equal), slerp (two models, --set t=0.3), ties (the first model "
                + "is the base, --set density=0.2), cocktail (LM-Cocktail: the first model is the fine-tuned one, "
                + "--examples of its task; --set alpha=0.5, --set temperature=5), or any registered merger key."},
        footer = {"", "Examples:", "  distill merge out/ fine-tuned/ base/ --weights 0.7,0.3",
            "  distill merge out/ fine-tuned/ base/ other/ --method cocktail --examples target.jsonl"})
final class MergeCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "<out-dir>", description = "the merged model folder to create (must not exist)")
    Path out;

    @Parameters(index = "1..*", arity = "1..*", paramLabel = "<model-dir>", description = "input model folders")
    List<Path> models = new ArrayList<>();

    @Option(names = "--method", description = "linear (default), slerp, ties, cocktail, or a merger key")
    String method = "linear";

    @Option(names = "--weights", split = ",", paramLabel = "w", description = "one weight per model, e.g. 0.3,0.7")
    List<Double> weights = new ArrayList<>();

    @Option(names = "--examples", paramLabel = "<file.jsonl>", description = "target-task examples (cocktail)")
    Path examples;

    @Option(names = "--set", paramLabel = "key=value", description = "a merger parameter (repeatable), e.g. alpha=0.7")
    List<String> sets = new ArrayList<>();

    @Option(names = "--device", description = "auto | cpu | gpu | gpu:N (default cpu)")
    String device = "cpu";

    @Override
    public Integer call() throws Exception {
        if (Files.exists(out)) {
            throw new ExperimentException(List.of("out-dir: exists; a merge never writes over a folder (got \"" + out
                    + "\"; accepted: a path that does not exist yet)"));
        }
        for (int i = 0; i < models.size(); i++) {
            if (!Files.isRegularFile(models.get(i).resolve("config.json"))) {
                throw new ExperimentException(List.of("model-dir[" + i + "]: no config.json (got \"" + models.get(i)
                        + "\"; accepted: a Hugging Face model folder)"));
            }
        }
        if (examples != null && !Files.isRegularFile(examples)) {
            throw new ExperimentException(List.of("--examples: no such file (got \"" + examples
                    + "\"; accepted: a JSONL file of the target task's records)"));
        }
        Config given = given();
        try (Kernel kernel = Distill.boot(Distill.deviceOf(ConfigFactory.parseMap(Map.of("experiment.device",
                device))))) {
            String key = method.contains(".") ? method : "merge." + method;
            Contribution<MergerFactory> merger = kernel.registry().find(ContributionKind.MERGER, key,
                    MergerFactory.class).orElseThrow(() -> new ExperimentException(List.of("--method: no registered "
                    + "merger (got \"" + method + "\"; accepted: " + String.join(", ", kernel.registry()
                    .list(ContributionKind.MERGER).stream().map(ContributionInfo::key).toList()) + ")")));
            Params.checkKnown(given.root(), merger.defaults().root(), "");
            Config params = given.withFallback(merger.defaults()).resolve();
            MergeResult r;
            try (EvalResources resources = new EvalResources(kernel.tensors(), kernel.models(), kernel.data(), 0,
                        kernel.registry(), "merge")) {
                RunDatasets datasets = new RunDatasets(Path.of("").toAbsolutePath(), ConfigFactory.empty(),
                        kernel.data());
                r = merger.factory().create(params).merge(new MergeContext(resources, datasets, models, out, "",
                        "model-dir"));
            }
            System.out.println("merged " + models.size() + " model(s) with " + merger.info().coordinates() + " into "
                    + r.model());
            System.out.println("  weight    model");
            for (int i = 0; i < models.size(); i++) {
                System.out.printf(Locale.ROOT, "  %-8.4f  %s%n", r.weights().get(i), models.get(i));
            }
            r.details().forEach((k, v) -> System.out.println("  " + k + ": " + v));
        }
        return ExitCodes.OK;
    }

    /** The merger parameters the options give. */
    private Config given() {
        Config c = ConfigFactory.empty();
        for (String s : sets) {
            int eq = s.indexOf('=');
            if (eq <= 0) {
                throw new ExperimentException(List.of("--set: expected key=value (got \"" + s + "\")"));
            }
            try {
                c = ConfigFactory.parseString(s).withFallback(c);
            } catch (ConfigException e) {
                throw new ExperimentException(List.of("--set: cannot parse \"" + s + "\": " + e.getMessage()));
            }
        }
        if (!weights.isEmpty()) {
            c = c.withValue("weights", ConfigValueFactory.fromIterable(weights));
        }
        if (examples != null) {
            c = c.withValue("examples", ConfigValueFactory.fromAnyRef(examples.toAbsolutePath().toString()));
        }
        return c;
    }
}
