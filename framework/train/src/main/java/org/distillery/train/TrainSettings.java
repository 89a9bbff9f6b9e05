package org.distillery.train;

import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

import com.typesafe.config.Config;

import org.distillery.api.InvalidConfigException;

/**
 * The optimisation settings of a {@code train} block (everything but its loss terms, sampler and
 * starting point, which {@link KdStages} reads as typed values), read once with their ranges
 * checked, so a bad value fails before any tensor work with its config path.
 */
public record TrainSettings(long steps, int batchSize, int gradAccum, int maxLength, double lr, double minLr,
                            long warmupSteps, String schedule, float weightDecay, float beta1, float beta2, float eps,
                            double clipNorm, long evalEvery, int evalBatches, int patience, boolean selectBest,
                            long checkpointEvery, int keepCheckpoints, long hotSwapWaitMillis,
                            String selectMetric, String selectMetricKey, int evalMaxNewTokens, boolean fusedOutput) {

    /** Reads and checks a {@code train} block (defaults already merged). */
    static TrainSettings of(Config c) {
        List<Double> betas = c.getDoubleList("betas");
        if (betas.size() != 2) {
            throw new InvalidConfigException("train.betas", "needs two values", betas.toString(), "[beta1, beta2]");
        }
        TrainSettings s = new TrainSettings(positive(c, "steps"), (int) positive(c, "batch-size"),
                (int) positive(c, "grad-accum"), (int) positive(c, "max-length"), positiveDouble(c, "lr"),
                c.getDouble("min-lr"), nonNegative(c, "warmup-steps"), c.getString("schedule").toLowerCase(Locale.ROOT),
                (float) c.getDouble("weight-decay"), betas.get(0).floatValue(), betas.get(1).floatValue(),
                (float) c.getDouble("eps"), c.getDouble("clip-norm"), nonNegative(c, "eval-every"),
                (int) positive(c, "eval-batches"), (int) nonNegative(c, "patience"), c.getBoolean("select-best"),
                nonNegative(c, "checkpoint-every"), (int) positive(c, "keep-checkpoints"),
                c.getDuration("hot-swap-wait", TimeUnit.MILLISECONDS), c.getString("select-metric"),
                c.getString("select-metric-key"), (int) positive(c, "eval-max-new-tokens"),
                c.getBoolean("fused-output"));
        new LrSchedule(s.schedule, s.lr, s.minLr, s.warmupSteps, s.steps);
        if (s.selectMetricKey.isEmpty() && !s.selectMetric.equals("val.loss")) {
            throw new InvalidConfigException("train.select-metric", "needs train.select-metric-key (the metric that "
                    + "reports it)", s.selectMetric, "val.loss, or a figure with its metric key, e.g. rouge-l with "
                    + "select-metric-key = eval.rouge-l");
        }
        return s;
    }

    /** True when a lower selection score is better: losses, perplexity, calibration error, exposure bias. */
    public boolean minimize() {
        return selectMetric.matches(".*(loss|ppl|ece|exaccerr).*");
    }

    private static long positive(Config c, String path) {
        long v = c.getLong(path);
        if (v <= 0) {
            throw new InvalidConfigException("train." + path, "must be positive", String.valueOf(v), "an integer >= 1");
        }
        return v;
    }

    private static long nonNegative(Config c, String path) {
        long v = c.getLong(path);
        if (v < 0) {
            throw new InvalidConfigException("train." + path, "must not be negative", String.valueOf(v), "an integer >= 0");
        }
        return v;
    }

    private static double positiveDouble(Config c, String path) {
        double v = c.getDouble(path);
        if (!(v > 0)) {
            throw new InvalidConfigException("train." + path, "must be positive", String.valueOf(v), "a number > 0");
        }
        return v;
    }
}
