package org.distillery.eval;

import java.util.ArrayList;
import java.util.List;
import java.util.function.ToDoubleFunction;

import com.typesafe.config.Config;

import org.distillery.api.data.Example;
import org.distillery.api.metric.EvalContext;
import org.distillery.api.metric.Metric;
import org.distillery.kit.data.Records;

/**
 * What the metrics of generated responses share: they need predictions, they may be restricted to
 * some task families ({@code tasks}, records whose {@code meta.task} is listed; [] means all), and
 * most of them average a per-record score over the records that have a reference.
 */
abstract class PredictionMetric implements Metric {

    /**
     * A selected record with its generated response.
     *
     * @param example the record
     * @param prediction the generated response
     * @param reference the record's reference response, or {@code null} when it has none
     */
    record Scored(Example example, String prediction, String reference) {
    }

    private final String key;
    private final List<String> tasks;

    /** Reads {@code tasks} from validated parameters. */
    PredictionMetric(String key, Config params) {
        this.key = key;
        this.tasks = params.getStringList("tasks");
    }

    @Override
    public final boolean needsPredictions() {
        return true;
    }

    /** The records of the selected tasks, with their predictions (the reference may be {@code null}). */
    final List<Scored> selected(EvalContext ctx) {
        List<String> preds = EvalSupport.predictions(ctx, key);
        List<Scored> out = new ArrayList<>();
        for (int i = 0; i < preds.size(); i++) {
            Example e = ctx.examples().get(i);
            if (EvalSupport.inTasks(e, tasks)) {
                out.add(new Scored(e, preds.get(i), Records.hasReference(e) ? Records.responseText(e) : null));
            }
        }
        return out;
    }

    /** The records of the selected tasks that have a reference response. */
    final List<Scored> withReference(EvalContext ctx) {
        return selected(ctx).stream().filter(s -> s.reference() != null).toList();
    }

    /** The mean of {@code score} over the records of the selected tasks that have a reference; NaN for none. */
    final double meanOverReferences(EvalContext ctx, ToDoubleFunction<Scored> score) {
        List<Scored> scored = withReference(ctx);
        double sum = 0;
        for (Scored s : scored) {
            sum += score.applyAsDouble(s);
        }
        return scored.isEmpty() ? Double.NaN : sum / scored.size();
    }
}
