package org.distillery.dashboard;

import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

import org.distillery.dashboard.export.MlflowExport;
import org.distillery.dashboard.export.TensorBoardExport;
import org.distillery.kernel.cli.ExitCodes;
import org.distillery.kernel.config.ExperimentException;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code distill export}: a run to TensorBoard event files or to an MLflow tracking server. */
@Command(name = "export", mixinStandardHelpOptions = true,
        description = "Export a run to an experiment tracker: TensorBoard event files, or MLflow's REST API.",
        subcommands = {ExportCommand.TensorBoard.class, ExportCommand.Mlflow.class})
public final class ExportCommand implements Callable<Integer> {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        spec.commandLine().usage(spec.commandLine().getOut());
        return ExitCodes.INVALID;
    }

    static void requireRunDir(Path runDir) {
        if (!Files.isRegularFile(runDir.resolve("config.conf")) || !Files.isRegularFile(runDir.resolve("events.jsonl"))) {
            throw new ExperimentException(List.of("run-dir: not a run directory with events (got \"" + runDir
                    + "\"; accepted: a folder made by distill run, with config.conf and events.jsonl)"));
        }
    }

    /** {@code distill export tensorboard <run-dir> <out>}. */
    @Command(name = "tensorboard", mixinStandardHelpOptions = true,
            description = {"Write the run's curves as TensorBoard event files: <out>/<stage>/events.out.tfevents.*, "
                + "one scalar tag per metric at each step.", "View with: tensorboard --logdir <out>"})
    static final class TensorBoard implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "<run-dir>")
        Path runDir;

        @Parameters(index = "1", paramLabel = "<out>", description = "folder for the event files (created)")
        Path out;

        @Override
        public Integer call() throws Exception {
            requireRunDir(runDir);
            if (Files.exists(out) && !Files.isDirectory(out)) {
                throw new ExperimentException(List.of("out: exists and is not a folder (got \"" + out + "\")"));
            }
            TensorBoardExport.Result r = TensorBoardExport.export(runDir, out);
            for (Path f : r.files()) {
                System.out.println("wrote " + f);
            }
            System.out.println(r.scalars() + " scalars, " + r.tags().values().stream().mapToInt(List::size).sum()
                    + " tags in " + r.files().size() + " stage(s); view with: tensorboard --logdir " + out);
            return ExitCodes.OK;
        }
    }

    /** {@code distill export mlflow <run-dir> --tracking-uri URL}. */
    @Command(name = "mlflow", mixinStandardHelpOptions = true,
            description = {"Log the run to an MLflow tracking server through its REST API: params (the resolved "
                + "config), metrics (every curve point, batched; evaluation figures), artifacts (config, results, "
                + "report, events, evaluations) and the run's end status.",
                "Credentials: MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD."})
    static final class Mlflow implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "<run-dir>")
        Path runDir;

        @Option(names = "--tracking-uri", paramLabel = "URL",
                description = "the tracking server, e.g. http://127.0.0.1:5000 (default: $MLFLOW_TRACKING_URI)")
        String trackingUri;

        @Option(names = "--experiment", paramLabel = "NAME",
                description = "MLflow experiment (default: the run's experiment name without its seed)")
        String experiment;

        @Option(names = "--no-artifacts", description = "log params and metrics only")
        boolean noArtifacts;

        @Override
        public Integer call() throws Exception {
            requireRunDir(runDir);
            String uri = trackingUri != null ? trackingUri : System.getenv("MLFLOW_TRACKING_URI");
            if (uri == null || uri.isBlank()) {
                throw new ExperimentException(List.of("--tracking-uri: missing (accepted: an http(s) URL of an "
                        + "MLflow tracking server, or set MLFLOW_TRACKING_URI)"));
            }
            URI parsed;
            try {
                parsed = URI.create(uri.trim());
            } catch (IllegalArgumentException e) {
                parsed = null;
            }
            if (parsed == null || parsed.getHost() == null
                    || !("http".equals(parsed.getScheme()) || "https".equals(parsed.getScheme()))) {
                throw new ExperimentException(List.of("--tracking-uri: not an http(s) URL (got \"" + uri
                        + "\"; accepted: e.g. http://127.0.0.1:5000)"));
            }
            MlflowExport.Result r = MlflowExport.export(runDir, new MlflowExport.Options(parsed, experiment,
                    !noArtifacts, System.getenv()));
            System.out.println("experiment " + r.experimentId() + ", run " + r.runId() + ": " + r.params() + " params, "
                    + r.metrics() + " metric values, " + r.artifacts() + " artifacts (" + r.requests() + " requests)");
            if (!r.skippedArtifacts().isEmpty()) {
                System.err.println("failed: artifacts not uploaded: " + r.skippedArtifacts());
                return ExitCodes.FAILED;
            }
            return ExitCodes.OK;
        }
    }
}
