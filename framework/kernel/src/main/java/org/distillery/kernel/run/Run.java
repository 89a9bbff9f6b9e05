package org.distillery.kernel.run;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicReference;

import com.google.gson.Gson;
import com.google.gson.JsonObject;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;

import ai.djl.ndarray.NDManager;

import org.distillery.api.ContributionRegistry;
import org.distillery.api.data.DataService;
import org.distillery.api.data.Datasets;
import org.distillery.api.model.ModelService;
import org.distillery.api.run.EventLog;
import org.distillery.api.run.RunContext;
import org.distillery.api.run.SwapRequest;
import org.distillery.api.tensor.TensorService;
import org.distillery.data.RunDatasets;
import org.distillery.kit.io.AtomicFiles;

/**
 * A run in this process. Operators reach it in-process (Gogo's {@code distill:swap}) or from
 * another process through files in its {@code control/} folder: {@code <id>.swap.json}
 * requests a loss swap and is answered by {@code <id>.ack.json}; a file named {@code stop}
 * asks the run to stop with a checkpoint.
 */
public final class Run implements RunContext, AutoCloseable {

    /** Control folder inside a run directory. */
    public static final String CONTROL = "control";
    private static final Gson GSON = new Gson();

    private final String runId;
    private final Path runDir;
    private final RunManager.Plan plan;
    private final Config config;
    private final Datasets datasets;
    private final JsonlEventLog events;
    private final NDManager manager;
    private final long seed;
    private final TensorService tensors;
    private final ContributionRegistry registry;
    private final ModelService models;
    private final DataService data;
    private final ConcurrentLinkedQueue<SwapRequest> swaps = new ConcurrentLinkedQueue<>();
    private final AtomicReference<String> stopReason = new AtomicReference<>();

    Run(Path runDir, RunManager.Plan plan, JsonlEventLog events, TensorService tensors, ContributionRegistry registry,
        ModelService models, DataService data) {
        this.runId = runDir.getFileName().toString();
        this.runDir = runDir;
        this.plan = plan;
        this.config = plan.experiment();
        this.datasets = new RunDatasets(runDir, config.getConfig("data"), data);
        this.events = events;
        this.tensors = tensors;
        this.manager = tensors.newRunScope(runId);
        this.seed = config.getLong("experiment.seed");
        this.registry = registry;
        this.models = models;
        this.data = data;
    }

    @Override
    public String runId() {
        return runId;
    }

    @Override
    public Path runDir() {
        return runDir;
    }

    @Override
    public Config config() {
        return config;
    }

    /** The validated plan this run executes. */
    public RunManager.Plan plan() {
        return plan;
    }

    @Override
    public Datasets datasets() {
        return datasets;
    }

    @Override
    public EventLog events() {
        return events;
    }

    /** The event log, for listeners. */
    public JsonlEventLog eventLog() {
        return events;
    }

    @Override
    public NDManager manager() {
        return manager;
    }

    @Override
    public long seed() {
        return seed;
    }

    /** Asks the run to stop at the next step boundary. */
    public void requestStop(String reason) {
        if (stopReason.compareAndSet(null, reason)) {
            events.event("stop-requested", Map.of("reason", reason));
        }
    }

    @Override
    public boolean stopRequested() {
        if (stopReason.get() == null && Files.exists(runDir.resolve(CONTROL).resolve("stop"))) {
            requestStop("control/stop file");
        }
        return stopReason.get() != null;
    }

    /** Queues a loss swap from this process. */
    public void requestSwap(SwapRequest request) {
        swaps.add(request);
    }

    @Override
    public List<SwapRequest> takeSwapRequests() {
        List<SwapRequest> out = new ArrayList<>();
        for (SwapRequest r; (r = swaps.poll()) != null; ) {
            out.add(r);
        }
        Path control = runDir.resolve(CONTROL);
        if (!Files.isDirectory(control)) {
            return out;
        }
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(control, "*.swap.json")) {
            List<Path> files = new ArrayList<>();
            ds.forEach(files::add);
            files.sort(null);
            for (Path f : files) {
                String id = f.getFileName().toString().replace(".swap.json", "");
                try {
                    JsonObject o = GSON.fromJson(Files.readString(f), JsonObject.class);
                    Config params = o.has("params") ? ConfigFactory.parseString(o.get("params").getAsString())
                            : ConfigFactory.empty();
                    out.add(new SwapRequest(id, o.get("term").getAsInt(), o.get("key").getAsString(), params));
                } catch (RuntimeException e) {
                    SwapRequest bad = new SwapRequest(id, -1, "?", ConfigFactory.empty());
                    acknowledgeSwap(bad, "malformed request " + f.getFileName() + ": " + e.getMessage());
                }
                Files.deleteIfExists(f);
            }
        } catch (IOException | ConfigException e) {
            events.event("control-error", Map.of("error", e.toString()));
        }
        return out;
    }

    @Override
    public void acknowledgeSwap(SwapRequest request, String error) {
        Map<String, Object> fields = new LinkedHashMap<>();
        fields.put("id", request.id());
        fields.put("term", request.term());
        fields.put("key", request.key());
        fields.put("applied", error == null);
        if (error != null) {
            fields.put("error", error);
        }
        events.event("swap-request", fields);
        try {
            AtomicFiles.writeString(runDir.resolve(CONTROL).resolve(request.id() + ".ack.json"), GSON.toJson(fields));
        } catch (IOException e) {
            events.event("control-error", Map.of("error", e.toString()));
        }
    }

    @Override
    public TensorService tensors() {
        return tensors;
    }

    @Override
    public ContributionRegistry registry() {
        return registry;
    }

    @Override
    public ModelService models() {
        return models;
    }

    @Override
    public DataService data() {
        return data;
    }

    @Override
    public void close() throws IOException {
        manager.close();
        events.close();
    }
}
