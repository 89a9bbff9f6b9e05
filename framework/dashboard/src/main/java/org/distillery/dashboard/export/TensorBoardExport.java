package org.distillery.dashboard.export;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.distillery.charts.RunLog;

/**
 * Exports a run's curves as TensorBoard event files: one folder per stage under the output
 * folder (TensorBoard shows each as a run, overlaid on the same charts), one scalar tag per
 * metric ({@code loss}, {@code lr}, {@code grad-norm}, ...; the first dot becomes a slash, so
 * {@code val.loss} is {@code val/loss} and {@code terms.0:kd.sft} is {@code terms/0:kd.sft},
 * grouped by TensorBoard), every point at its step and the wall time of its event. Each file is
 * written beside its final name and renamed when complete.
 */
public final class TensorBoardExport {

    /**
     * What was written.
     *
     * @param files the event files
     * @param scalars the number of scalar values
     * @param tags the tags, per stage
     */
    public record Result(List<Path> files, long scalars, Map<String, List<String>> tags) {
    }

    private TensorBoardExport() {
    }

    /** The tag of a metric. */
    static String tag(String metric) {
        int dot = metric.indexOf('.');
        return dot > 0 ? metric.substring(0, dot) + "/" + metric.substring(dot + 1) : metric;
    }

    /** Writes {@code <out>/<stage>/events.out.tfevents.<seconds>.<host>.distill} for each stage of the run. */
    public static Result export(Path runDir, Path out) throws IOException {
        RunLog log = RunLog.read(runDir.resolve("events.jsonl"));
        Map<String, List<RunLog.Series>> byStage = new LinkedHashMap<>();
        for (RunLog.Series s : log.series()) {
            byStage.computeIfAbsent(s.stage(), k -> new ArrayList<>()).add(s);
        }
        String host = hostName();
        long firstSeconds = log.startedMillis() > 0 ? log.startedMillis() / 1000 : System.currentTimeMillis() / 1000;
        List<Path> files = new ArrayList<>();
        Map<String, List<String>> tags = new LinkedHashMap<>();
        long scalars = 0;
        for (Map.Entry<String, List<RunLog.Series>> e : byStage.entrySet()) {
            String stage = e.getKey().isEmpty() ? "run" : e.getKey().replaceAll("[^A-Za-z0-9._-]", "_");
            Path dir = Files.createDirectories(out.resolve(stage));
            Path file = dir.resolve("events.out.tfevents." + firstSeconds + "." + host + ".distill");
            Path tmp = dir.resolve("." + file.getFileName() + ".tmp");
            double start = log.startedMillis() / 1000.0;
            try (OutputStream os = Files.newOutputStream(tmp); TfEventsWriter w = new TfEventsWriter(os, start)) {
                for (RunLog.Series s : e.getValue()) {
                    double[] x = s.x();
                    double[] y = s.y();
                    long[] t = s.millis();
                    String tag = tag(s.metric());
                    tags.computeIfAbsent(e.getKey(), k -> new ArrayList<>()).add(tag);
                    for (int i = 0; i < x.length; i++) {
                        w.scalar(tag, (long) x[i], (float) y[i], t[i] > 0 ? t[i] / 1000.0 : start);
                        scalars++;
                    }
                }
            } catch (IOException | RuntimeException ex) {
                Files.deleteIfExists(tmp);
                throw ex;
            }
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            files.add(file);
        }
        return new Result(files, scalars, tags);
    }

    private static String hostName() {
        try {
            return InetAddress.getLocalHost().getHostName().replaceAll("[^A-Za-z0-9._-]", "_");
        } catch (IOException e) {
            return "localhost";
        }
    }
}
