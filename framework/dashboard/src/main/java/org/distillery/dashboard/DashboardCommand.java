package org.distillery.dashboard;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

import org.distillery.kernel.cli.ExitCodes;
import org.distillery.kernel.config.ExperimentException;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code distill dashboard}: the web app over run directories, until SIGTERM or Ctrl-C. */
@Command(name = "dashboard", mixinStandardHelpOptions = true,
        description = {"Watch runs in the browser: status, stages with progress and ETA, live curves, seed groups "
            + "with mean and band, the compare table, and the predictions beside the references.",
            "Read-only; bound to 127.0.0.1 unless --host is given (which then needs --api-key-env)."})
public final class DashboardCommand implements Callable<Integer> {

    @Parameters(arity = "0..*", paramLabel = "<runs-dir>",
            description = "folders of run directories, or run directories (default: runs)")
    List<Path> dirs = new ArrayList<>();

    @Option(names = "--port", description = "TCP port, 0 = a free one (default 8080)")
    int port = 8080;

    @Option(names = "--host", description = "address to bind (default 127.0.0.1); anything but loopback needs an API key")
    String host = "127.0.0.1";

    @Option(names = "--api-key-env", paramLabel = "NAME",
            description = "require the key in this environment variable (Authorization: Bearer <key>, or as the "
                + "password the browser asks for)")
    String apiKeyEnv;

    @Option(names = "--max-streams", description = "live-update streams served at once (default 32)")
    int maxStreams = 32;

    @Override
    public Integer call() throws Exception {
        List<Path> roots = dirs.isEmpty() ? List.of(Path.of("runs")) : dirs;
        for (Path d : roots) {
            if (!Files.isDirectory(d)) {
                throw new ExperimentException(List.of("runs-dir: no such folder (got \"" + d + "\"; accepted: a "
                        + "folder of run directories such as runs/, or a run directory)"));
            }
        }
        String key = null;
        if (apiKeyEnv != null) {
            key = System.getenv(apiKeyEnv);
            if (key == null || key.isEmpty()) {
                throw new ExperimentException(List.of("--api-key-env: environment variable " + apiKeyEnv
                        + " is not set or empty (accepted: the name of a set variable holding the key)"));
            }
        }
        DashboardServer server;
        try {
            server = DashboardServer.start(new DashboardServer.Options(host, port, key, roots, maxStreams, 500));
        } catch (IllegalArgumentException e) {
            throw new ExperimentException(List.of(e.getMessage()));
        } catch (IOException e) {
            throw new ExperimentException(List.of("--host/--port: " + e.getMessage()));
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            server.close();
            stopped.countDown();
        }, "distill-dashboard-shutdown"));
        System.out.println("dashboard: " + server.url() + " (" + String.join(", ", roots.stream()
                .map(p -> p.toAbsolutePath().normalize().toString()).toList()) + ")" + (key != null
                ? "; API key required" : ""));
        System.out.println("port " + server.port());
        System.out.flush();
        stopped.await();
        return ExitCodes.OK;
    }
}
