package org.distillery.train;

import java.util.Locale;

import org.distillery.api.InvalidConfigException;

/** Linear warm-up followed by cosine, linear or constant decay to a floor. */
public record LrSchedule(String shape, double peak, double floor, long warmupSteps, long totalSteps) {

    /** Validates the shape. */
    public LrSchedule {
        shape = shape.toLowerCase(Locale.ROOT);
        if (!shape.equals("cosine") && !shape.equals("linear") && !shape.equals("constant")) {
            throw new InvalidConfigException("train.schedule", "unknown schedule", shape, "cosine, linear, constant");
        }
    }

    /** The learning rate of 0-based optimisation step {@code step}. */
    public double at(long step) {
        if (warmupSteps > 0 && step < warmupSteps) {
            return peak * (step + 1) / warmupSteps;
        }
        if (shape.equals("constant") || totalSteps <= warmupSteps) {
            return peak;
        }
        double progress = Math.min(1.0, (double) (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps));
        double factor = shape.equals("cosine") ? 0.5 * (1 + Math.cos(Math.PI * progress)) : 1 - progress;
        return floor + (peak - floor) * factor;
    }
}
