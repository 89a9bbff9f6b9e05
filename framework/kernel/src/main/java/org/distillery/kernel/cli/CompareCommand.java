package org.distillery.kernel.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

import org.distillery.kernel.config.ExperimentException;
import org.distillery.kit.io.AtomicFiles;
import org.distillery.eval.RunComparison;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code distill compare}: one table across runs. Each run contributes its stages' metrics
 * ({@code results.json}) and its evaluations ({@code eval/<model>.json}); runs whose experiment
 * names differ only by the seed are one group, and each cell is the mean ± sample standard
 * deviation over the group's seeds, with the number of runs.
 */
@Command(name = "compare", mixinStandardHelpOptions = true,
        description = "One table across runs: rows = experiment/model, columns = metrics, mean ± std over seeds.")
final class CompareCommand implements Callable<Integer> {

    @Parameters(arity = "1..*", paramLabel = "<run-dir>",
            description = "run directories, or folders of run directories (e.g. runs/)")
    List<Path> dirs = new ArrayList<>();

    @Option(names = "--metrics", split = ",", paramLabel = "<name>",
            description = "figures to show, in this order; a trailing * matches a prefix (e.g. exaccerr@*)")
    List<String> metrics = new ArrayList<>();

    @Option(names = "--all", description = "show every figure, also counts and ExAccErr's R(l) and eps(l)")
    boolean all;

    @Option(names = "--json", paramLabel = "<file>", description = "also write the table as JSON")
    Path json;

    @Override
    public Integer call() throws Exception {
        for (Path d : dirs) {
            if (!Files.isDirectory(d)) {
                throw new ExperimentException(List.of("run-dir: no such folder (got \"" + d
                        + "\"; accepted: a run directory made by distill run, or a folder of them)"));
            }
        }
        List<Path> runDirs = RunComparison.runDirs(dirs);
        if (runDirs.isEmpty()) {
            throw new ExperimentException(List.of("run-dir: no run directory (with config.conf) in " + dirs));
        }
        List<RunComparison.RunRecord> runs = new ArrayList<>();
        for (Path d : runDirs) {
            runs.add(RunComparison.read(d));
        }
        RunComparison.Table table = RunComparison.compare(runs,
                all && metrics.isEmpty() ? List.of("*") : metrics);
        if (table.rows().isEmpty()) {
            System.out.println("no results yet in " + runDirs.size() + " run(s): no results.json or eval/*.json");
            return ExitCodes.OK;
        }
        System.out.print(RunComparison.render(table));
        System.out.println(runDirs.size() + " run(s)");
        if (json != null) {
            AtomicFiles.writeString(json, RunComparison.toJson(table));
            System.out.println("written to " + json);
        }
        return ExitCodes.OK;
    }
}
