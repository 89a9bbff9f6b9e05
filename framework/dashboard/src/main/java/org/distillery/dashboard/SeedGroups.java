package org.distillery.dashboard;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import com.google.gson.JsonParser;
import com.google.gson.stream.JsonWriter;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigRenderOptions;
import com.typesafe.config.ConfigValueFactory;

import org.distillery.charts.Downsample;
import org.distillery.charts.RunLog;

/**
 * Seed groups: runs whose resolved configs are equal once {@code experiment.seed} is left out
 * (and {@code experiment.progress}, a display setting, and a seed suffix of
 * {@code experiment.name}, as {@code distill compare} strips it), so they are the same experiment
 * run with different seeds. A group's curve per stage and metric is the mean over its runs at
 * each step, with the min, max and sample standard deviation (0 for one run) beside it; steps
 * some runs have not reached yet are averaged over the runs that have.
 */
final class SeedGroups {

    private SeedGroups() {
    }

    /** The group key of a config: a digest of its canonical JSON without the seed. */
    static String key(Config config, String groupName) {
        Config c = config.withoutPath("experiment.seed").withoutPath("experiment.progress");
        if (c.hasPath("experiment.name")) {
            c = c.withValue("experiment.name", ConfigValueFactory.fromAnyRef(groupName));
        }
        String canonical = RunWatch.sorted(JsonParser.parseString(c.root().render(ConfigRenderOptions.concise())))
                .toString();
        try {
            byte[] d = MessageDigest.getInstance("SHA-256").digest(canonical.getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(d, 0, 8);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** One metric of one stage over a group's runs. */
    record Aggregate(String stage, String metric, String kind, double[] x, double[] mean, double[] min, double[] max,
                     double[] std, int[] n) {
    }

    /** Aggregates each (stage, metric) over the runs. */
    static List<Aggregate> aggregate(List<RunWatch> runs) throws IOException {
        Map<String, TreeMap<Double, List<Double>>> values = new LinkedHashMap<>();
        Map<String, String[]> names = new LinkedHashMap<>();
        for (RunWatch r : runs) {
            r.refresh();
            r.withCurves(log -> {
                for (RunLog.Series s : log.series()) {
                    String k = s.stage() + '\u0000' + s.metric();
                    names.putIfAbsent(k, new String[] {s.stage(), s.metric(), s.kind().name().toLowerCase(
                            java.util.Locale.ROOT)});
                    TreeMap<Double, List<Double>> byStep = values.computeIfAbsent(k, x -> new TreeMap<>());
                    double[] x = s.x();
                    double[] y = s.y();
                    Map<Double, Double> last = new LinkedHashMap<>();
                    for (int i = 0; i < x.length; i++) {
                        // a resumed run repeats steps after its checkpoint: its latest value counts
                        last.put(x[i], y[i]);
                    }
                    last.forEach((step, v) -> byStep.computeIfAbsent(step, z -> new ArrayList<>()).add(v));
                }
                return null;
            });
        }
        List<Aggregate> out = new ArrayList<>();
        for (Map.Entry<String, TreeMap<Double, List<Double>>> e : values.entrySet()) {
            TreeMap<Double, List<Double>> byStep = e.getValue();
            int size = byStep.size();
            double[] x = new double[size];
            double[] mean = new double[size];
            double[] min = new double[size];
            double[] max = new double[size];
            double[] std = new double[size];
            int[] n = new int[size];
            int i = 0;
            for (Map.Entry<Double, List<Double>> p : byStep.entrySet()) {
                x[i] = p.getKey();
                double sum = 0;
                double lo = Double.POSITIVE_INFINITY;
                double hi = Double.NEGATIVE_INFINITY;
                int k = 0;
                for (double v : p.getValue()) {
                    if (Double.isFinite(v)) {
                        sum += v;
                        lo = Math.min(lo, v);
                        hi = Math.max(hi, v);
                        k++;
                    }
                }
                double m = k == 0 ? Double.NaN : sum / k;
                double sq = 0;
                for (double v : p.getValue()) {
                    if (Double.isFinite(v)) {
                        sq += (v - m) * (v - m);
                    }
                }
                mean[i] = m;
                min[i] = k == 0 ? Double.NaN : lo;
                max[i] = k == 0 ? Double.NaN : hi;
                std[i] = k == 0 ? Double.NaN : k > 1 ? Math.sqrt(sq / (k - 1)) : 0;
                n[i] = k;
                i++;
            }
            String[] nm = names.get(e.getKey());
            out.add(new Aggregate(nm[0], nm[1], nm[2], x, mean, min, max, std, n));
        }
        return out;
    }

    /** Writes aggregates as {@code [{stage, metric, kind, x, mean, min, max, std, n}]}, downsampled. */
    static void write(JsonWriter w, List<Aggregate> aggregates, int maxPoints) throws IOException {
        w.beginArray();
        for (Aggregate a : aggregates) {
            double[] lower = new double[a.x().length];
            double[] upper = new double[a.x().length];
            for (int i = 0; i < lower.length; i++) {
                lower[i] = a.mean()[i] - a.std()[i];
                upper[i] = a.mean()[i] + a.std()[i];
            }
            int[] keep = Downsample.minMaxIndices(a.x().length, Downsample.bucketsFor(maxPoints / 3 + 1), a.mean(),
                    a.min(), a.max(), lower, upper);
            w.beginObject();
            w.name("stage").value(a.stage());
            w.name("metric").value(a.metric());
            w.name("kind").value(a.kind());
            array(w, "x", a.x(), keep, false);
            array(w, "mean", a.mean(), keep, true);
            array(w, "min", a.min(), keep, true);
            array(w, "max", a.max(), keep, true);
            array(w, "std", a.std(), keep, true);
            w.name("n").beginArray();
            for (int i : keep) {
                w.value(a.n()[i]);
            }
            w.endArray();
            w.endObject();
        }
        w.endArray();
    }

    private static void array(JsonWriter w, String name, double[] v, int[] keep, boolean compact) throws IOException {
        w.name(name).beginArray();
        for (int i : keep) {
            RunLog.writeNumber(w, v[i], compact);
        }
        w.endArray();
    }

    /** The markers of a group's runs, each labelled with its run's seed. */
    static void writeMarkers(JsonWriter w, List<RunWatch> runs) throws IOException {
        w.beginArray();
        for (RunWatch r : runs) {
            long seed = r.meta().seed();
            List<RunLog.Marker> markers = r.withCurves(RunLog::markers);
            for (RunLog.Marker m : markers) {
                w.beginObject();
                w.name("stage").value(m.stage());
                w.name("step");
                RunLog.writeNumber(w, m.step(), false);
                w.name("kind").value(m.kind());
                w.name("label").value("seed " + seed + ": " + m.label());
                w.endObject();
            }
        }
        w.endArray();
    }
}
